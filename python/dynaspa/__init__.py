"""dynaspa: compile and run DNN operators with dynamic spatial sparsity."""
