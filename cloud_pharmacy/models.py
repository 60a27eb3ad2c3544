"""云药房 models; the app's tables arrive with its issue."""
