"""Video domains (UCF101, HMDB51, Olympic Sports): splits, decoding, the Norpix reader, frame features, loaders."""
