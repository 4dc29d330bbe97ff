"""Golden models (float and bit-exact fixed point) and the cycle simulator."""
