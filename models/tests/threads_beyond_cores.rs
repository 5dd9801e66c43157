//! A step with more threads than the machine has cores: every slice gets its own worker,
//! so a batch norm's shards, each waiting until all have reached it, never wait for ever
//! (`--threads 5` on 2 cores hung when the slices shared rayon's pool of one worker per
//! core); the loss and inference are those of one thread, within rounding.

use std::sync::mpsc;
use std::time::Duration;

use models::arch::Arch;
use models::train::{forward_backward, infer};
use rand::SeedableRng;
use rand::rngs::StdRng;
use tensor::Tensor;

#[test]
fn more_threads_than_cores_finish_with_the_one_thread_results() {
    let threads = std::thread::available_parallelism().map_or(1, usize::from) + 3;
    let (send, receive) = mpsc::channel();
    std::thread::spawn(move || {
        let spec = "conv(8,3,p=1) batchnorm relu maxpool(2) conv(8,3,p=1) batchnorm relu gap flatten linear(4)";
        let mut rng = StdRng::seed_from_u64(5);
        let mut model = spec.parse::<Arch>().unwrap().build::<f32, _>([1, 8, 8], Some(4), &mut rng).unwrap();
        let x = Tensor::<f32>::rand_normal(&[2 * threads, 1, 8, 8], 0.0, 1.0, &mut rng).unwrap();
        let labels: Vec<usize> = (0..2 * threads).map(|i| i % 4).collect();
        let losses = [1, threads].map(|t| forward_backward(model.as_ref(), &x, &labels, t).unwrap().loss);
        model.set_training(false);
        let outputs = [1, threads].map(|t| infer(model.as_ref(), &x, t).unwrap().to_vec());
        send.send((losses, outputs)).unwrap();
    });
    let ([one, many], [y1, yn]) = receive.recv_timeout(Duration::from_secs(120)).expect("the steps finish");
    assert!((one - many).abs() <= 1e-5 * one.abs().max(1.0), "loss {one} on 1 thread, {many} on {threads}");
    assert_eq!(y1, yn);
}
