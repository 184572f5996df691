"""The built-in crmkit plugins, one package each."""
