//! Position within the cycles of SGDR (Loshchilov & Hutter, "SGDR: Stochastic Gradient Descent
//! with Warm Restarts", ICLR 2017).

/// `(T_cur, T_i)` at step `t` for cycles of length T₀, T₀·T_mult, T₀·T_mult², …, counted
/// exactly in integers (as PyTorch's `CosineAnnealingWarmRestarts.step()` does).
pub(crate) fn position(t: u64, t_0: u64, t_mult: u64) -> (u64, u64) {
    if t_mult == 1 {
        return (t % t_0, t_0);
    }
    let (mut t_cur, mut t_i) = (t, t_0);
    while t_cur >= t_i {
        t_cur -= t_i;
        t_i = t_i.saturating_mul(t_mult);
    }
    (t_cur, t_i)
}

#[cfg(test)]
mod tests {
    #[test]
    fn cycles_double() {
        let p: Vec<_> = (0..8).map(|t| super::position(t, 1, 2)).collect();
        assert_eq!(
            p,
            vec![
                (0, 1),
                (0, 2),
                (1, 2),
                (0, 4),
                (1, 4),
                (2, 4),
                (3, 4),
                (0, 8)
            ]
        );
        assert_eq!(super::position(7, 3, 1), (1, 3));
    }
}
