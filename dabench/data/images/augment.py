"""The names of the train-time image augmentations (no torch here).

`dataset.build_transforms` and the decoded-image cache (`cache.AUGMENTS`) implement them; the
loaders pick one per domain (`loaders.augmentation`). They live in their own module so the
torch-free loaders and the torch side read one list without importing each other.
"""

# train-time augmentations `dataset.build_transforms` knows; a run's recipe of the same name
# picks one (the config recipe and the augmentation are different things that share names)
AUGMENTATIONS = ("tllib", "dann-paper")
# recipes that use another recipe's transforms: thuml/CDAN (c904cd3) pytorch/pre_process.py
# 138-167 squashes to 256x256, then RandomResizedCrop 224 + flip / the centre crop, as TLlib
RECIPE_AUGMENTATION = {"cdan": "tllib"}
DEFAULT_AUGMENT = "dann-paper"
