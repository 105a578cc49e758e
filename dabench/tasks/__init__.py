"""Task definitions: the YAML files beside this module and their loader (`catalog`)."""
