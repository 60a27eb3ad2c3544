"""云服务 models; the app's tables arrive with its issue."""
