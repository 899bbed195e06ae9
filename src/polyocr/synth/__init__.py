"""The synthetic document generator: text, fonts, layouts, rendering, degradations, shards."""
