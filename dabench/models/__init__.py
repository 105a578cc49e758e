"""Networks: the gradient reversal layer, backbones, heads and the DANN network."""
