"""Settings: leaf frozen dataclasses for every config section, and the one loader (:mod:`stream.settings.loader`)."""
