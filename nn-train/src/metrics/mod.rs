//! Per-class metrics of a classifier on a labelled split: the confusion matrix, per-class
//! accuracy (recall) and precision, and which classes are mistaken for which.
//!
//! ```text
//! confusion[t][p] = #{ i : yᵢ = t and ŷᵢ = p }        (rows: true class, columns: predicted)
//! accuracy_c  = confusion[c][c] / Σ_p confusion[c][p]  (recall of class c; None without images)
//! precision_c = confusion[c][c] / Σ_t confusion[t][c]  (None if c is never predicted)
//! ```
//!
//! Rows are true classes and columns predictions, as scikit-learn's `confusion_matrix` and
//! torchmetrics' `MulticlassConfusionMatrix` lay them out. [`plot_confusion`] draws the matrix
//! as `confusion.png`.
//!
//! ```
//! use nn_train::metrics::ClassMetrics;
//! let names = vec!["cat".to_string(), "dog".to_string()];
//! let m = ClassMetrics::new(&[0, 1, 1, 1], &[0, 0, 1, 1], names);
//! assert_eq!(m.confusion, vec![vec![1, 1], vec![0, 2]]);
//! assert_eq!(m.per_class_accuracy, vec![Some(0.5), Some(1.0)]);
//! assert_eq!(m.accuracy, 0.75);
//! ```

mod plot;

pub use plot::plot_confusion;

use serde::{Deserialize, Serialize};

/// The confusion matrix of a split and the per-class figures derived from it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassMetrics {
    /// Class names, by label.
    pub classes: Vec<String>,
    /// `confusion[t][p]`: images of true class `t` predicted as `p`.
    pub confusion: Vec<Vec<u64>>,
    /// Images of each true class (row sums).
    pub support: Vec<u64>,
    /// Accuracy on each true class (recall): diagonal / row sum; `None` for a class without
    /// images in the split.
    pub per_class_accuracy: Vec<Option<f32>>,
    /// Precision of each class: diagonal / column sum; `None` if the class is never predicted.
    pub per_class_precision: Vec<Option<f32>>,
    /// Overall accuracy (trace / images).
    pub accuracy: f32,
    /// Number of images.
    pub images: u64,
}

/// One off-diagonal cell: `count` images of class `truth` predicted as `predicted`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Confusion {
    /// The true class.
    pub truth: usize,
    /// The predicted class.
    pub predicted: usize,
    /// How many images.
    pub count: u64,
}

fn ratio(num: u64, den: u64) -> Option<f32> {
    (den > 0).then(|| (num as f64 / den as f64) as f32)
}

impl ClassMetrics {
    /// The metrics of `predicted` against `labels` for the classes `classes` (by label).
    ///
    /// # Panics
    /// If `predicted` and `labels` differ in length or hold a class `>= classes.len()` (the
    /// caller's bug: both come from a model and a data set with that many classes).
    pub fn new(predicted: &[usize], labels: &[usize], classes: Vec<String>) -> ClassMetrics {
        assert_eq!(
            predicted.len(),
            labels.len(),
            "ClassMetrics::new: {} predictions for {} labels",
            predicted.len(),
            labels.len()
        );
        let k = classes.len();
        let mut confusion = vec![vec![0u64; k]; k];
        for (&p, &t) in predicted.iter().zip(labels) {
            assert!(
                p < k && t < k,
                "ClassMetrics::new: class {} out of range for {k} classes",
                p.max(t)
            );
            confusion[t][p] += 1;
        }
        let support: Vec<u64> = confusion.iter().map(|r| r.iter().sum()).collect();
        let predicted_count: Vec<u64> = (0..k)
            .map(|c| confusion.iter().map(|r| r[c]).sum())
            .collect();
        let correct: u64 = (0..k).map(|c| confusion[c][c]).sum();
        let images = labels.len() as u64;
        ClassMetrics {
            per_class_accuracy: (0..k).map(|c| ratio(confusion[c][c], support[c])).collect(),
            per_class_precision: (0..k)
                .map(|c| ratio(confusion[c][c], predicted_count[c]))
                .collect(),
            accuracy: ratio(correct, images).unwrap_or(0.0),
            images,
            support,
            confusion,
            classes,
        }
    }

    /// Number of classes.
    pub fn num_classes(&self) -> usize {
        self.classes.len()
    }

    /// The off-diagonal cells with at least one image, most frequent first (ties: by true
    /// class, then predicted class).
    pub fn top_confusions(&self) -> Vec<Confusion> {
        let mut out: Vec<Confusion> = self
            .confusion
            .iter()
            .enumerate()
            .flat_map(|(t, row)| {
                row.iter()
                    .enumerate()
                    .filter(move |&(p, &n)| p != t && n > 0)
                    .map(move |(p, &n)| Confusion {
                        truth: t,
                        predicted: p,
                        count: n,
                    })
            })
            .collect();
        out.sort_by(|a, b| {
            b.count
                .cmp(&a.count)
                .then(a.truth.cmp(&b.truth))
                .then(a.predicted.cmp(&b.predicted))
        });
        out
    }

    /// The per-class table printed by the CLI: class, images, accuracy, precision and the
    /// class it is most often mistaken for.
    pub fn table(&self) -> String {
        let pct = |v: Option<f32>| v.map_or("-".to_string(), |v| format!("{:.1} %", 100.0 * v));
        let width = self
            .classes
            .iter()
            .map(|c| c.chars().count())
            .max()
            .unwrap_or(5)
            .clamp(5, 24);
        let mut s = format!(
            "{:<width$} {:>7} {:>9} {:>9}  most often mistaken for\n",
            "class", "images", "accuracy", "precision"
        );
        for c in 0..self.num_classes() {
            let worst = self.confusion[c]
                .iter()
                .enumerate()
                .filter(|&(p, &n)| p != c && n > 0)
                .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(&a.0)))
                .map_or(String::new(), |(p, n)| format!("{} ({n})", self.classes[p]));
            let name: String = self.classes[c].chars().take(24).collect();
            s.push_str(&format!(
                "{name:<width$} {:>7} {:>9} {:>9}  {worst}\n",
                self.support[c],
                pct(self.per_class_accuracy[c]),
                pct(self.per_class_precision[c]),
            ));
        }
        s
    }
}

/// Class names `"0"`, `"1"`, … for data without names.
pub fn numbered_classes(n: usize) -> Vec<String> {
    (0..n).map(|c| c.to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: usize) -> Vec<String> {
        numbered_classes(n)
    }

    #[test]
    fn counts_match_a_hand_count() {
        // true:      0 0 0 1 1 2 2 2 2
        // predicted: 0 1 0 1 1 2 0 2 1
        let labels = [0, 0, 0, 1, 1, 2, 2, 2, 2];
        let predicted = [0, 1, 0, 1, 1, 2, 0, 2, 1];
        let m = ClassMetrics::new(&predicted, &labels, names(3));
        assert_eq!(
            m.confusion,
            vec![vec![2, 1, 0], vec![0, 2, 0], vec![1, 1, 2]]
        );
        assert_eq!(m.support, vec![3, 2, 4]);
        assert_eq!(
            m.per_class_accuracy,
            vec![Some(2.0 / 3.0), Some(1.0), Some(0.5)]
        );
        assert_eq!(
            m.per_class_precision,
            vec![Some(2.0 / 3.0), Some(0.5), Some(1.0)]
        );
        assert_eq!(m.accuracy, 6.0 / 9.0);
        assert_eq!(m.images, 9);
        let top = m.top_confusions();
        assert_eq!(
            top.iter()
                .map(|c| (c.truth, c.predicted, c.count))
                .collect::<Vec<_>>(),
            vec![(0, 1, 1), (2, 0, 1), (2, 1, 1)]
        );
        let table = m.table();
        assert!(table.contains("66.7 %"), "{table}");
        assert!(table.lines().nth(3).unwrap().contains("0 (1)"), "{table}");
    }

    #[test]
    fn empty_and_never_predicted_classes_are_none() {
        let m = ClassMetrics::new(&[0, 0], &[0, 1], names(3));
        assert_eq!(m.per_class_accuracy, vec![Some(1.0), Some(0.0), None]);
        assert_eq!(m.per_class_precision, vec![Some(0.5), None, None]);
        let json = serde_json::to_string(&m).unwrap();
        assert!(json.contains("null"), "{json}");
        assert_eq!(serde_json::from_str::<ClassMetrics>(&json).unwrap(), m);
        let none = ClassMetrics::new(&[], &[], names(2));
        assert_eq!(none.accuracy, 0.0);
        assert!(none.top_confusions().is_empty());
    }

    proptest::proptest! {
        /// The matrix sums to the image count, its diagonal to the correct count, its rows
        /// to the label histogram and its columns to the prediction histogram.
        #[test]
        fn sums_are_consistent(pairs in proptest::collection::vec((0usize..5, 0usize..5), 0..60)) {
            let (predicted, labels): (Vec<usize>, Vec<usize>) = pairs.into_iter().unzip();
            let m = ClassMetrics::new(&predicted, &labels, names(5));
            let total: u64 = m.confusion.iter().flatten().sum();
            proptest::prop_assert_eq!(total, labels.len() as u64);
            let correct = predicted.iter().zip(&labels).filter(|(p, l)| p == l).count() as u64;
            proptest::prop_assert_eq!((0..5).map(|c| m.confusion[c][c]).sum::<u64>(), correct);
            for c in 0..5 {
                proptest::prop_assert_eq!(m.support[c], labels.iter().filter(|&&l| l == c).count() as u64);
                let col: u64 = m.confusion.iter().map(|r| r[c]).sum();
                proptest::prop_assert_eq!(col, predicted.iter().filter(|&&p| p == c).count() as u64);
            }
        }
    }
}
