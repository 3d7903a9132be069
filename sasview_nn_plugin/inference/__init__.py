"""Inference (numpy + h5py only): the model file (checked from metadata first), the network and
`invert`.  Takes a curve and a volume fraction; gives an Inversion (distribution over radius).
"""
