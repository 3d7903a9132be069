"""Training: simulate sasmodels-exact training sets (HDF5) and train networks (Keras; the only
TensorFlow import).  Takes simulation settings; gives trained_models/*.h5.
"""
