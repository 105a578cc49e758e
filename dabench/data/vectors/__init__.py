"""Feature-vector domains (modality `vectors`): svmlight, .npz, .csv and .mat files, sparse kept
sparse. `loaders.py` registers the `vectors` loader; `amazon/` holds the Amazon reviews data."""
