//! Limited-memory BFGS for the smooth convex objectives of the linear
//! models (logistic loss, squared hinge), with a backtracking Armijo line
//! search. Stopping rules follow scipy's L-BFGS-B as scikit-learn calls
//! it: the largest gradient component below `gtol`, or a relative
//! decrease of the objective below 64 machine epsilons.

use std::collections::VecDeque;

/// Stopping rules and memory of one minimisation.
pub(crate) struct Options {
    /// Iterations (accepted steps) before giving up unconverged.
    pub(crate) max_iter: usize,
    /// Converged when the largest gradient component is at most this.
    pub(crate) gtol: f64,
    /// Correction pairs kept.
    pub(crate) memory: usize,
}

/// Where a minimisation ended.
pub(crate) struct Outcome {
    /// The last accepted point.
    pub(crate) x: Vec<f64>,
    /// Accepted steps taken.
    pub(crate) iterations: usize,
    /// False when `max_iter` ran out or no step decreased the objective.
    pub(crate) converged: bool,
}

/// Minimises `objective`, which returns the value at `x` and writes the
/// gradient into its second argument. `on_iteration(i, value)` sees every
/// accepted step.
pub(crate) fn minimize(
    objective: impl Fn(&[f64], &mut [f64]) -> f64,
    x0: Vec<f64>,
    options: &Options,
    mut on_iteration: impl FnMut(usize, f64),
) -> Outcome {
    let n = x0.len();
    let mut x = x0;
    let mut g = vec![0.0; n];
    let mut f = objective(&x, &mut g);
    let mut pairs: VecDeque<(Vec<f64>, Vec<f64>, f64)> = VecDeque::with_capacity(options.memory);
    let mut x_new = vec![0.0; n];
    let mut g_new = vec![0.0; n];
    if max_abs(&g) <= options.gtol {
        return Outcome { x, iterations: 0, converged: true };
    }
    for iteration in 1..=options.max_iter {
        let mut direction = two_loop(&g, &pairs);
        let mut slope = dot(&g, &direction);
        if slope >= 0.0 {
            pairs.clear();
            direction = g.iter().map(|v| -v).collect();
            slope = dot(&g, &direction);
        }
        let mut step = if pairs.is_empty() { 1.0 / norm(&g).max(1.0) } else { 1.0 };
        let mut f_new = f;
        let mut accepted = false;
        for _ in 0..60 {
            x_new.iter_mut().zip(&x).zip(&direction).for_each(|((xn, xi), d)| *xn = xi + step * d);
            f_new = objective(&x_new, &mut g_new);
            if f_new.is_finite() && f_new <= f + 1e-4 * step * slope {
                accepted = true;
                break;
            }
            step *= 0.5;
        }
        if !accepted {
            return Outcome { x, iterations: iteration, converged: false };
        }
        let s: Vec<f64> = x_new.iter().zip(&x).map(|(a, b)| a - b).collect();
        let y: Vec<f64> = g_new.iter().zip(&g).map(|(a, b)| a - b).collect();
        let sy = dot(&s, &y);
        if sy > 1e-12 {
            if pairs.len() == options.memory {
                pairs.pop_front();
            }
            pairs.push_back((s, y, 1.0 / sy));
        }
        let decrease = (f - f_new) / f.abs().max(f_new.abs()).max(1.0);
        std::mem::swap(&mut x, &mut x_new);
        std::mem::swap(&mut g, &mut g_new);
        f = f_new;
        on_iteration(iteration, f);
        if max_abs(&g) <= options.gtol || decrease <= 64.0 * f64::EPSILON {
            return Outcome { x, iterations: iteration, converged: true };
        }
    }
    Outcome { x, iterations: options.max_iter, converged: false }
}

/// The L-BFGS approximation of `-H^-1 g`.
fn two_loop(g: &[f64], pairs: &VecDeque<(Vec<f64>, Vec<f64>, f64)>) -> Vec<f64> {
    let mut q: Vec<f64> = g.to_vec();
    let mut alphas = Vec::with_capacity(pairs.len());
    for (s, y, rho) in pairs.iter().rev() {
        let a = rho * dot(s, &q);
        q.iter_mut().zip(y).for_each(|(qi, yi)| *qi -= a * yi);
        alphas.push(a);
    }
    if let Some((s, y, _)) = pairs.back() {
        let gamma = dot(s, y) / dot(y, y);
        q.iter_mut().for_each(|v| *v *= gamma);
    }
    for ((s, y, rho), a) in pairs.iter().zip(alphas.into_iter().rev()) {
        let b = rho * dot(y, &q);
        q.iter_mut().zip(s).for_each(|(qi, si)| *qi += (a - b) * si);
    }
    q.iter_mut().for_each(|v| *v = -*v);
    q
}

pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn norm(a: &[f64]) -> f64 {
    dot(a, a).sqrt()
}

fn max_abs(a: &[f64]) -> f64 {
    a.iter().fold(0.0, |m, v| m.max(v.abs()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimises_a_rosenbrock_valley() {
        let rosenbrock = |x: &[f64], g: &mut [f64]| {
            let (a, b) = (x[0], x[1]);
            g[0] = -2.0 * (1.0 - a) - 400.0 * a * (b - a * a);
            g[1] = 200.0 * (b - a * a);
            (1.0 - a).powi(2) + 100.0 * (b - a * a).powi(2)
        };
        let options = Options { max_iter: 500, gtol: 1e-8, memory: 10 };
        let out = minimize(rosenbrock, vec![-1.2, 1.0], &options, |_, _| {});
        assert!(out.converged);
        assert!((out.x[0] - 1.0).abs() < 1e-4 && (out.x[1] - 1.0).abs() < 1e-4, "{:?}", out.x);
    }
}
