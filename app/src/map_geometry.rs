//! Geometry shared by the fans' seat map and the staff heat map: section
//! outlines, bounds, and the zoomable view box (pure arithmetic, tested
//! without a browser).

/// Convex hull (Andrew's monotone chain), counter-clockwise.
pub fn convex_hull(mut points: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    points.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    points.dedup();
    if points.len() < 3 {
        return points;
    }
    let cross = |o: (f64, f64), a: (f64, f64), b: (f64, f64)| {
        (a.0 - o.0) * (b.1 - o.1) - (a.1 - o.1) * (b.0 - o.0)
    };
    let mut hull: Vec<(f64, f64)> = Vec::with_capacity(points.len() + 1);
    for pass in 0..2 {
        let start = hull.len();
        let ordered: Vec<(f64, f64)> = if pass == 0 {
            points.clone()
        } else {
            points.iter().rev().copied().collect()
        };
        for p in ordered {
            while hull.len() >= start + 2
                && cross(hull[hull.len() - 2], hull[hull.len() - 1], p) <= 0.0
            {
                hull.pop();
            }
            hull.push(p);
        }
        hull.pop();
    }
    hull
}

/// A polygon as SVG `points`.
pub fn svg_points(outline: &[(f64, f64)]) -> String {
    outline
        .iter()
        .map(|(x, y)| format!("{x:.1},{y:.1}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The mean of some points.
pub fn centre(points: &[(f64, f64)]) -> (f64, f64) {
    let n = points.len().max(1) as f64;
    (
        points.iter().map(|p| p.0).sum::<f64>() / n,
        points.iter().map(|p| p.1).sum::<f64>() / n,
    )
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bounds {
    pub min_x: f64,
    pub min_y: f64,
    pub max_x: f64,
    pub max_y: f64,
}

impl Bounds {
    pub fn of(points: impl Iterator<Item = (f64, f64)>) -> Self {
        points.fold(
            Bounds {
                min_x: f64::MAX,
                min_y: f64::MAX,
                max_x: f64::MIN,
                max_y: f64::MIN,
            },
            |b, (x, y)| Bounds {
                min_x: b.min_x.min(x),
                min_y: b.min_y.min(y),
                max_x: b.max_x.max(x),
                max_y: b.max_y.max(y),
            },
        )
    }

    pub fn padded(&self, pad: f64) -> ViewBox {
        ViewBox {
            x: self.min_x - pad,
            y: self.min_y - pad,
            width: (self.max_x - self.min_x).max(0.0) + 2.0 * pad,
            height: (self.max_y - self.min_y).max(0.0) + 2.0 * pad,
        }
    }

    pub fn view_box(&self, pad: f64) -> String {
        self.padded(pad).to_attr()
    }

    pub fn intersects(&self, view: &ViewBox) -> bool {
        self.max_x >= view.x
            && self.min_x <= view.x + view.width
            && self.max_y >= view.y
            && self.min_y <= view.y + view.height
    }
}

/// The part of the plan shown, in metres (an SVG `viewBox`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ViewBox {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
}

impl ViewBox {
    pub fn to_attr(&self) -> String {
        format!(
            "{:.2} {:.2} {:.2} {:.2}",
            self.x, self.y, self.width, self.height
        )
    }

    pub fn centre(&self) -> (f64, f64) {
        (self.x + self.width / 2.0, self.y + self.height / 2.0)
    }

    /// Zoomed by `factor` (> 1 zooms in) keeping the plan point `at` where
    /// it is on screen, no closer than `min_width` metres across and no
    /// farther out than `home`.
    pub fn zoom(&self, factor: f64, at: (f64, f64), home: &ViewBox, min_width: f64) -> ViewBox {
        let factor = if factor.is_finite() && factor > 0.0 {
            factor
        } else {
            1.0
        };
        let width = (self.width / factor).clamp(min_width.min(home.width), home.width);
        let scale = width / self.width;
        let zoomed = ViewBox {
            x: at.0 - (at.0 - self.x) * scale,
            y: at.1 - (at.1 - self.y) * scale,
            width,
            height: self.height * scale,
        };
        zoomed.within(home)
    }

    /// Moved by `(dx, dy)` metres, kept over the plan.
    pub fn pan(&self, dx: f64, dy: f64, home: &ViewBox) -> ViewBox {
        ViewBox {
            x: self.x + dx,
            y: self.y + dy,
            ..*self
        }
        .within(home)
    }

    /// Keeps the view inside `home` (centred on it when as large), so the
    /// plan cannot be lost.
    fn within(self, home: &ViewBox) -> ViewBox {
        let clamp = |centre: f64, half: f64, start: f64, size: f64| {
            let (low, high) = (start + half, start + size - half);
            if low <= high {
                centre.clamp(low, high)
            } else {
                start + size / 2.0
            }
        };
        let (cx, cy) = self.centre();
        let cx = clamp(cx, self.width / 2.0, home.x, home.width);
        let cy = clamp(cy, self.height / 2.0, home.y, home.height);
        ViewBox {
            x: cx - self.width / 2.0,
            y: cy - self.height / 2.0,
            ..self
        }
    }

    /// A view of `bounds` with the aspect ratio of `home` (so the drawing
    /// is not distorted), padded by `pad`.
    pub fn fit(bounds: &Bounds, pad: f64, home: &ViewBox) -> ViewBox {
        let inner = bounds.padded(pad);
        let aspect = home.width / home.height.max(f64::EPSILON);
        let (width, height) = if inner.width / inner.height.max(f64::EPSILON) > aspect {
            (inner.width, inner.width / aspect)
        } else {
            (inner.height * aspect, inner.height)
        };
        let (cx, cy) = inner.centre();
        ViewBox {
            x: cx - width / 2.0,
            y: cy - height / 2.0,
            width,
            height,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hull_keeps_only_the_outer_points() {
        let square_with_inside = vec![
            (0.0, 0.0),
            (2.0, 0.0),
            (2.0, 2.0),
            (0.0, 2.0),
            (1.0, 1.0),
            (1.0, 0.0),
        ];
        let hull = convex_hull(square_with_inside);
        assert_eq!(hull, vec![(0.0, 0.0), (2.0, 0.0), (2.0, 2.0), (0.0, 2.0)]);
        assert_eq!(convex_hull(vec![(1.0, 1.0), (1.0, 1.0)]), vec![(1.0, 1.0)]);
    }

    fn home() -> ViewBox {
        ViewBox {
            x: -100.0,
            y: -50.0,
            width: 200.0,
            height: 100.0,
        }
    }

    #[test]
    fn zooming_keeps_the_point_under_the_pointer_and_stays_within_limits() {
        let home = home();
        let zoomed = home.zoom(4.0, (50.0, 25.0), &home, 10.0);
        assert_eq!(zoomed.width, 50.0);
        assert_eq!(zoomed.height, 25.0);
        // (50, 25) was 3/4 across and down; it still is.
        assert!((zoomed.x + 0.75 * zoomed.width - 50.0).abs() < 1e-9);
        assert!((zoomed.y + 0.75 * zoomed.height - 25.0).abs() < 1e-9);
        // Never closer than the minimum, never farther than home.
        assert_eq!(zoomed.zoom(1000.0, (0.0, 0.0), &home, 10.0).width, 10.0);
        assert_eq!(zoomed.zoom(0.001, (0.0, 0.0), &home, 10.0), home);
        assert_eq!(zoomed.zoom(f64::NAN, (0.0, 0.0), &home, 10.0), zoomed);
    }

    #[test]
    fn panning_cannot_lose_the_plan() {
        let home = home();
        let view = home.zoom(4.0, (0.0, 0.0), &home, 10.0);
        let moved = view.pan(10.0, -5.0, &home);
        assert_eq!((moved.x - view.x, moved.y - view.y), (10.0, -5.0));
        let far = view.pan(10_000.0, 10_000.0, &home);
        assert_eq!(far.centre(), (75.0, 37.5), "stopped at the far corner");
    }

    #[test]
    fn fitting_a_section_keeps_the_maps_aspect_ratio() {
        let section = Bounds {
            min_x: 0.0,
            min_y: 0.0,
            max_x: 10.0,
            max_y: 20.0,
        };
        let view = ViewBox::fit(&section, 0.0, &home());
        assert_eq!((view.width, view.height), (40.0, 20.0));
        assert_eq!(view.centre(), (5.0, 10.0));
        assert!(section.intersects(&view));
        assert!(!section.intersects(&ViewBox {
            x: 11.0,
            y: 0.0,
            width: 5.0,
            height: 5.0
        }));
    }
}
