"""The agent: answers natural-language questions about one video by calling counters, the recognizer and mined knowledge as tools."""
