"""Rendering video files: the frame loop of ``dreamstream video`` and the flicker measure."""
