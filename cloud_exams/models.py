"""云检查 models; the app's tables arrive with its issue."""
