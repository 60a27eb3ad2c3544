"""医保支付 models; the app's tables arrive with its issue."""
