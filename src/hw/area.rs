//! Chip area from the model: every tile's weight cells, their subarrays' periphery (write
//! drivers, sense amplifiers), its SRAM buffer and its compute unit, each from an area in
//! F² at the node `tech.node_nm`; the master-weight SRAM (with `update.master = "digital"`)
//! and any extra `tile.area_mm2` on top.

use crate::config::ArchConfig;
use crate::config::device::Master;
use crate::device::Layout;

/// Area of one tile by component, in mm².
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct TileArea {
    /// The weight memory's cells: subarrays x rows x columns x cells per write unit.
    pub cells_mm2: f64,
    /// The subarrays' write drivers and sense amplifiers.
    pub periphery_mm2: f64,
    /// The activation and gradient buffer (6T SRAM at its array efficiency).
    pub buffer_mm2: f64,
    /// The compute unit's MAC lanes.
    pub compute_mm2: f64,
    /// The master-weight SRAM (0 without master weights).
    pub master_mm2: f64,
    /// `tile.area_mm2`, added as given.
    pub extra_mm2: f64,
}

/// Names of the components, in [`TileArea::parts`] order (the `area_*_mm2` columns).
pub const AREA_PARTS: [&str; 6] = ["cells", "periphery", "buffer", "compute", "master", "extra"];

impl TileArea {
    /// The area of one of the arch's tiles.
    pub fn of(a: &ArchConfig) -> Self {
        let t = &a.tech;
        let cell_f2 = crate::tech::of(a).map_or(a.string.cell_area_f2, |x| x.cell_area_f2());
        let cells = f64::from(a.tile.subarrays)
            * a.subarray.strings() as f64
            * f64::from(Layout::of(a).mtjs);
        let periphery_f2 = f64::from(a.tile.subarrays)
            * (f64::from(a.subarray.write_drivers) * a.subarray.write_driver_area_f2
                + f64::from(a.subarray.sense_amps) * a.subarray.sense_amp_area_f2);
        let buffer_bits = a.tile.buffer_kib * 8192.0;
        Self {
            cells_mm2: t.mm2(cells * cell_f2),
            periphery_mm2: t.mm2(periphery_f2),
            buffer_mm2: t.mm2(buffer_bits * t.sram_cell_area_f2) / t.sram_array_efficiency,
            compute_mm2: t.mm2(f64::from(a.tile.mac_lanes) * a.tile.mac_area_f2),
            master_mm2: if a.update.master == Master::Digital {
                a.tile.master_kib * a.tile.master_area_mm2_per_kib
            } else {
                0.0
            },
            extra_mm2: a.tile.area_mm2,
        }
    }

    /// The components' areas, in [`AREA_PARTS`] order, in mm².
    pub fn parts(&self) -> [f64; 6] {
        [
            self.cells_mm2,
            self.periphery_mm2,
            self.buffer_mm2,
            self.compute_mm2,
            self.master_mm2,
            self.extra_mm2,
        ]
    }

    /// The whole tile, in mm².
    pub fn total_mm2(&self) -> f64 {
        self.parts().iter().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::arch::StoreKind;

    #[test]
    fn the_default_tile_by_hand() {
        let a = ArchConfig::default();
        let t = TileArea::of(&a);
        let f2 = 45e-6 * 45e-6; // mm² per F² at 45 nm
        // 8 subarrays x 128 x 64 strings x 8 MTJs x 13 F².
        assert!((t.cells_mm2 - 8.0 * 8192.0 * 8.0 * 13.0 * f2).abs() < 1e-15);
        // 8 x (8 drivers x 5000 F² + 64 sense amplifiers x 2500 F²).
        assert!((t.periphery_mm2 - 8.0 * (8.0 * 5000.0 + 64.0 * 2500.0) * f2).abs() < 1e-15);
        // 64 KiB of 190 F² cells at 70 % efficiency.
        assert!((t.buffer_mm2 - 65536.0 * 8.0 * 190.0 * f2 / 0.7).abs() < 1e-12);
        assert!((t.compute_mm2 - 128.0 * 500_000.0 * f2).abs() < 1e-12);
        assert_eq!((t.master_mm2, t.extra_mm2), (0.0, 0.0));
        let sum = t.cells_mm2 + t.periphery_mm2 + t.buffer_mm2 + t.compute_mm2;
        assert!((t.total_mm2() - sum).abs() < 1e-15 && sum > 0.4, "{sum}");
        assert_eq!(
            t.parts(),
            [
                t.cells_mm2,
                t.periphery_mm2,
                t.buffer_mm2,
                t.compute_mm2,
                0.0,
                0.0
            ]
        );
    }

    #[test]
    fn areas_scale_with_the_square_of_the_node_and_follow_the_technology() {
        let mut a = ArchConfig::default();
        let at45 = TileArea::of(&a);
        a.tech.node_nm = 22.5;
        let at22 = TileArea::of(&a);
        for (x, y) in at45.parts().iter().zip(at22.parts()) {
            assert!((x / 4.0 - y).abs() <= 1e-12 * x, "{x} {y}");
        }
        // One 8-bit weight per word of 8 cells, as per string of 8 MTJs: the cells' area
        // differs by the cell areas alone.
        let mut s = ArchConfig::default();
        s.weights.store = StoreKind::Sram;
        let sram = TileArea::of(&s);
        assert!((sram.cells_mm2 / at45.cells_mm2 - 190.0 / 13.0).abs() < 1e-9);
        assert_eq!(sram.buffer_mm2, at45.buffer_mm2);
        // Master weights and extra area add as given.
        a.update.master = Master::Digital;
        a.tile.area_mm2 = 0.5;
        let m = TileArea::of(&a);
        assert!((m.master_mm2 - 128.0 * 0.0011).abs() < 1e-12);
        assert_eq!(m.extra_mm2, 0.5);
    }
}
