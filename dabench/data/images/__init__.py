"""Image-folder domains (Office-31, Office-Home, bring-your-own): layout, dataset, loaders, cache."""
