"""State changes of the payments app; import the submodules directly (STYLE.md 4.3)."""
