"""Static inspection of the target repository: source parsing, flags, imports, files, git facts."""
