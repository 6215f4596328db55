//! The gradient reducer on its own: bucketed, rank-ordered sums over a model whose layers are
//! used unevenly by the ranks.

use super::*;

/// Three linear layers; the test's loss uses them by hand.
struct Layers(Vec<Linear>);

impl Module for Layers {
    fn forward(&self, x: &Tensor, ctx: &mut Ctx) -> Tensor {
        self.0[0].forward(x, ctx)
    }
    fn visit(&self, prefix: &str, f: &mut dyn FnMut(nn_core::Entry<'_>)) {
        for (i, l) in self.0.iter().enumerate() {
            l.visit(&nn_core::module::join(prefix, &i.to_string()), f);
        }
    }
    fn describe(&self) -> String {
        "3 x Linear(6, 4)".into()
    }
}

fn layers() -> Layers {
    Layers(
        (0..3)
            .map(|i| LinearConfig::new(6, 4).init(&mut seeded(i)).unwrap())
            .collect(),
    )
}

/// Rank r's loss: Σ y² with y = layer0(x_r), plus layer1(x_r) on rank 0; layer 2 unused.
fn rank_loss(model: &Layers, rank: usize) -> Tensor {
    let x = Tensor::randn(&[5, 6], 0.0, 1.0, &mut seeded(10 + rank as u64));
    let mut y = model.0[0].forward(&x, &mut Ctx::train(0));
    if rank == 0 {
        y = &y + &model.0[1].forward(&x, &mut Ctx::train(0));
    }
    (&y * &y).sum_all()
}

/// The reducer on its own: sums of the ranks' gradients in rank order, bit for bit, over two
/// steps (the first learns the arrival order, the second sends buckets from the hook), with a
/// parameter that got a gradient on one rank only and one that got none.
#[test]
fn the_reducer_sums_gradients_in_rank_order() {
    let per_rank: Vec<Vec<Option<Array>>> = (0..3)
        .map(|rank| {
            let model = layers();
            rank_loss(&model, rank).backward();
            model
                .named_parameters()
                .iter()
                .map(|(_, p)| p.grad())
                .collect()
        })
        .collect();
    let results = on_ranks(3, |dist| {
        let model = layers();
        let mut reducer = GradReducer::new(dist.comm().clone(), &model, 64);
        assert_eq!(reducer.num_buckets(), 6, "one parameter per 64-byte bucket");
        let mut steps = Vec::new();
        for _ in 0..2 {
            model.zero_grad();
            reducer.begin();
            let loss = rank_loss(&model, dist.rank());
            loss.backward_with_hook(Array::from_elem(ndarray::IxDyn(&[]), 1.0), &mut |leaf| {
                reducer.on_leaf(leaf).unwrap()
            });
            reducer.finish().unwrap();
            let grads: Vec<Option<Array>> = model
                .named_parameters()
                .iter()
                .map(|(_, p)| p.grad())
                .collect();
            steps.push((grads, reducer.stats()));
        }
        steps
    });
    let mut want: Vec<Option<Array>> = vec![None; 6];
    for rank_grads in &per_rank {
        for (w, g) in want.iter_mut().zip(rank_grads) {
            if let Some(g) = g {
                *w = Some(match w.take() {
                    Some(acc) => &acc + g,
                    None => g.clone(),
                });
            }
        }
    }
    assert!(want[1].is_some() && want[2].is_some() && want[4].is_none());
    for rank in &results {
        for (grads, _) in rank {
            assert_eq!(grads, &want);
        }
    }
    // Step 1 sends everything after backward; step 2 starts buckets from the hook.
    assert_eq!(results[0][0].1.started_in_backward, 0);
    assert!(
        results[0][1].1.started_in_backward > 0,
        "{:?}",
        results[0][1].1
    );
}
