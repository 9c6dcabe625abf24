"""Qt widgets of the plugin (menu entries now; parameter widgets, settings and plot dock later)."""
