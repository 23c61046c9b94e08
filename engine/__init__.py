"""DreamStream engine: pure tensor compute (models, objectives, octave ascent, flow, blending).

Nothing here touches files, the network or the terminal, and nothing runs at import time.
"""
