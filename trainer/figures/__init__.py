"""Figures: one house style (`style`), the language-model loop's figures (`training`), reinforcement
learning's (`rl`), introspection's (`introspection`), and drawing beside the main process (`parallel`).
matplotlib and numpy only, never torch, so the site generators draw with the same helpers."""
