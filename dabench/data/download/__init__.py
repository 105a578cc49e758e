"""`dabench data download`: fetch, verify and unpack the real datasets.

registry.py reads sources.yaml (mirrors, sizes, hashes, extraction recipes, provenance);
fetch.py downloads one file (HTTP with resume across mirrors, Google Drive through gdown);
archives.py unpacks zip/tar/RAR refusing members that would land outside the target;
install.py puts a dataset in place (temporary folder, rename, completion marker);
lists.py writes the image lists and video split files from the extracted folders.
"""
