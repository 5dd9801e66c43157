//! LeNet-5, MNIST and the `lenet5` command (work in progress: see issue 5).
