//! The random draws of a training run, written out so that another framework can replay
//! the same run number by number: the initial value of every parameter and the order of the
//! training images in every epoch (`nandspin draws`, read by
//! `scripts/torch_reference.py --draws`).
//!
//! The file is TOML: a header (format version, workload, seed, image count, epochs), one
//! `[[params]]` table per parameter tensor in the network's order (its `name`, `layer`,
//! `len` and `values`, as f32 in the shortest decimal that reads back to the same f32), and
//! one `[[orders]]` table per epoch (`epoch`, and `images`: the training images' indices
//! from 0 in the order they are trained).

use std::fmt::Write as _;

use crate::config::workload::TrainingConfig;
use crate::nn::network::Network;
use crate::train::epoch_order;

/// Version of the file's layout; a reader refuses any other.
pub const FORMAT_VERSION: u32 = 1;

/// The draws file of a training of `net` on `train_images` images with `cfg` (its seed,
/// epochs and shuffle), for workload `workload`.
pub fn render(workload: &str, net: &Network, cfg: &TrainingConfig, train_images: usize) -> String {
    let mut s = String::new();
    // Writing to a String cannot fail.
    let _ = writeln!(
        s,
        "# nandspin draws: the initial parameters and the per-epoch image orders of a training\n\
         # run, for replaying it in another framework (scripts/torch_reference.py --draws).\n\
         # Parameter values are f32; orders index the training images from 0.\n\
         format_version = {FORMAT_VERSION}\n\
         workload = {}\n\
         seed = {}\n\
         train_images = {train_images}\n\
         epochs = {}\n\
         shuffle = {}",
        toml_string(workload),
        cfg.seed,
        cfg.epochs,
        cfg.shuffle
    );
    for (p, values) in net.params().iter().zip(net.init_params(cfg.seed)) {
        let _ = write!(
            s,
            "\n[[params]]\nname = {}\nlayer = {}\nlen = {}\nvalues = [",
            toml_string(&p.name),
            toml_string(&p.layer),
            p.len
        );
        for (i, v) in values.iter().enumerate() {
            // Debug keeps a decimal point or an exponent: a TOML float, read back exactly.
            let _ = write!(s, "{}{v:?}", if i == 0 { "" } else { ", " });
        }
        s.push_str("]\n");
    }
    let mut order: Vec<usize> = (0..train_images).collect();
    for epoch in 1..=cfg.epochs {
        epoch_order(&mut order, cfg, epoch);
        let _ = write!(s, "\n[[orders]]\nepoch = {epoch}\nimages = [");
        for (i, v) in order.iter().enumerate() {
            let _ = write!(s, "{}{v}", if i == 0 { "" } else { ", " });
        }
        s.push_str("]\n");
    }
    s
}

/// `v` as a TOML basic string.
fn toml_string(v: &str) -> String {
    toml::Value::String(v.to_string()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::workload::LayerSpec;
    use crate::nn::graph;
    use crate::nn::tensor::Shape;

    fn net() -> Network {
        #[derive(serde::Deserialize)]
        struct L {
            layers: Vec<LayerSpec>,
        }
        let layers = toml::from_str::<L>(
            r#"
            [[layers]]
            name = "c1"
            type = "conv2d"
            input = "input"
            out_channels = 2
            kernel = 3
            [[layers]]
            name = "bn"
            type = "batch_norm"
            input = "c1"
            [[layers]]
            name = "f"
            type = "flatten"
            input = "bn"
            [[layers]]
            name = "d"
            type = "dense"
            input = "f"
            out_features = 3
            "#,
        )
        .unwrap()
        .layers;
        Network::new(graph::build(&layers, Shape::new(1, 5, 5)).unwrap())
    }

    fn cfg(seed: u64, shuffle: bool) -> TrainingConfig {
        TrainingConfig {
            seed,
            epochs: 3,
            shuffle,
            ..Default::default()
        }
    }

    #[test]
    fn the_file_holds_the_run_s_initial_values_and_epoch_orders() {
        let n = net();
        let c = cfg(7, true);
        let t: toml::Table = render("tiny", &n, &c, 10).parse().unwrap();
        assert_eq!(t["format_version"].as_integer(), Some(1));
        assert_eq!(t["workload"].as_str(), Some("tiny"));
        assert_eq!(t["seed"].as_integer(), Some(7));
        let params = t["params"].as_array().unwrap();
        let init = n.init_params(7);
        assert_eq!(params.len(), n.params().len());
        for ((p, spec), want) in params.iter().zip(n.params()).zip(&init) {
            assert_eq!(p["name"].as_str(), Some(spec.name.as_str()));
            let got: Vec<f32> = p["values"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_float().unwrap() as f32)
                .collect();
            assert_eq!(&got, want, "{}", spec.name);
        }
        // The batch norm's gamma and beta are there, 1 and 0.
        assert!(
            params
                .iter()
                .any(|p| p["name"].as_str() == Some("bn.gamma"))
        );
        let orders = t["orders"].as_array().unwrap();
        assert_eq!(orders.len(), 3);
        let mut seen = Vec::new();
        for (e, o) in orders.iter().enumerate() {
            let got: Vec<usize> = o["images"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_integer().unwrap() as usize)
                .collect();
            let mut want: Vec<usize> = (0..10).rev().collect();
            epoch_order(&mut want, &c, e as u32 + 1);
            assert_eq!(got, want);
            let mut sorted = got.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, (0..10).collect::<Vec<_>>());
            seen.push(got);
        }
        assert_ne!(seen[0], seen[1], "each epoch has its own order");
    }

    #[test]
    fn without_shuffle_the_orders_are_ascending_and_seeds_change_the_draws() {
        let n = net();
        let t: toml::Table = render("tiny", &n, &cfg(1, false), 4).parse().unwrap();
        for o in t["orders"].as_array().unwrap() {
            let got: Vec<i64> = o["images"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_integer().unwrap())
                .collect();
            assert_eq!(got, vec![0, 1, 2, 3]);
        }
        assert_ne!(
            render("tiny", &n, &cfg(1, true), 50),
            render("tiny", &n, &cfg(2, true), 50)
        );
    }
}
