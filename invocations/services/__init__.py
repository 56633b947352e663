"""The write side: keyword-only, typed functions that decide (views only translate)."""
