"""Everything that reads or writes the outside world: images, weights, video files, sources, sinks."""
