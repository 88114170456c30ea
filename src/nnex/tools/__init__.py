"""Tools over models: optimize, bench (and later quantize, float16, compare)."""
