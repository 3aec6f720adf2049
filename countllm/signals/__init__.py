"""Stage 3: candidate 1-D signals (from joints or embeddings) and the periodicity analysis
that picks one, estimates its period and cuts it into complete cycles."""
