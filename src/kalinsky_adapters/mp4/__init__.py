"""MP4 files read and rewritten in place: sample entries and samples."""
