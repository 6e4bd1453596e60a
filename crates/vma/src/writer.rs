//! VMA writer producing archives PVE's `vma`/`qmrestore` can read: header laid
//! out as PVE's writer does, extents of up to 59 clusters, all-zero 4 KiB
//! blocks left out (mask bit clear), MD5s over header and extent headers.
//! Clusters may be written in any order; `finish` refuses an archive with a
//! missing cluster.

use crate::clusters::ClusterSet;
use crate::error::WriteError;
use crate::format::{
    BLOCK_SIZE, BLOCKINFO_OFFSET, BlockInfo, CLUSTER_SIZE, CLUSTERS_PER_EXTENT, EXTENT_HEADER_SIZE,
    EXTENT_MAGIC, EXTENT_MD5_OFFSET, MAX_EXTENT_SIZE, clusters_for, md5_with_zeroed_field,
};
use crate::header::{DevId, HeaderSpec, encode_header};
use std::io::{ErrorKind, Read, Write};

/// Streaming VMA writer.
#[derive(Debug)]
pub struct VmaWriter<W: Write> {
    out: W,
    uuid: [u8; 16],
    /// (size, written set), index = dev id - 1.
    devices: Vec<(u64, ClusterSet)>,
    infos: Vec<u64>,
    data: Vec<u8>,
}

/// True if `b` is all zero bytes.
pub fn is_zero(b: &[u8]) -> bool {
    let (chunks, rest) = b.as_chunks::<16>();
    chunks.iter().all(|c| u128::from_ne_bytes(*c) == 0) && rest.iter().all(|&x| x == 0)
}

impl<W: Write> VmaWriter<W> {
    /// Validates `spec`, writes the header and returns a writer that expects
    /// every cluster of every device. Device ids are 1, 2, … in spec order.
    pub fn new(mut out: W, spec: &HeaderSpec) -> Result<Self, WriteError> {
        let header = encode_header(spec)?;
        out.write_all(&header)?;
        let devices = spec
            .devices
            .iter()
            .map(|(_, size)| (*size, ClusterSet::new(clusters_for(*size))))
            .collect();
        Ok(Self {
            out,
            uuid: *spec.uuid.as_bytes(),
            devices,
            infos: Vec::with_capacity(CLUSTERS_PER_EXTENT),
            data: Vec::with_capacity(MAX_EXTENT_SIZE - EXTENT_HEADER_SIZE),
        })
    }

    /// Bytes of device `dev` that cluster `cluster` covers.
    pub fn cluster_len(&self, dev: DevId, cluster: u32) -> Result<usize, WriteError> {
        let (size, _) = self.device(dev)?;
        let off = u64::from(cluster) * CLUSTER_SIZE as u64;
        if off >= size {
            return Err(WriteError::ClusterOutOfRange {
                dev_id: dev.get(),
                cluster: u64::from(cluster),
            });
        }
        Ok((size - off).min(CLUSTER_SIZE as u64) as usize)
    }

    fn device(&self, dev: DevId) -> Result<(u64, &ClusterSet), WriteError> {
        self.devices
            .get(usize::from(dev.get()) - 1)
            .map(|(s, set)| (*s, set))
            .ok_or(WriteError::UnknownDevice { dev_id: dev.get() })
    }

    /// Writes one cluster. `data.len()` must equal [`Self::cluster_len`]
    /// (64 KiB except for a device's last cluster). Zero blocks are detected
    /// and left out.
    pub fn write_cluster(
        &mut self,
        dev: DevId,
        cluster: u32,
        data: &[u8],
    ) -> Result<(), WriteError> {
        let expected = self.cluster_len(dev, cluster)?;
        if data.len() != expected {
            return Err(WriteError::BadClusterLength {
                dev_id: dev.get(),
                cluster,
                expected,
                got: data.len(),
            });
        }
        let set = &mut self.devices[usize::from(dev.get()) - 1].1;
        if !set.insert(u64::from(cluster)) {
            return Err(WriteError::DuplicateCluster {
                dev_id: dev.get(),
                cluster,
            });
        }
        let mut mask = 0u16;
        for (i, block) in data.chunks(BLOCK_SIZE).enumerate() {
            if is_zero(block) {
                continue;
            }
            mask |= 1 << i;
            self.data.extend_from_slice(block);
            // A partial last block is padded with zeros to 4 KiB.
            self.data
                .resize(self.data.len() + (BLOCK_SIZE - block.len()), 0);
        }
        self.infos.push(
            BlockInfo {
                mask,
                reserved: 0,
                dev_id: dev.get(),
                cluster_num: cluster,
            }
            .to_u64(),
        );
        if self.infos.len() == CLUSTERS_PER_EXTENT {
            self.flush_extent()?;
        }
        Ok(())
    }

    /// Writes a whole device from `src`, cluster 0 upwards. Reads exactly the
    /// device size; a shorter source is an error.
    pub fn write_device<R: Read>(&mut self, dev: DevId, mut src: R) -> Result<(), WriteError> {
        let (size, _) = self.device(dev)?;
        let mut buf = vec![0u8; CLUSTER_SIZE];
        let mut done = 0u64;
        for cluster in 0..clusters_for(size) {
            let len = (size - done).min(CLUSTER_SIZE as u64) as usize;
            let mut got = 0;
            while got < len {
                match src.read(&mut buf[got..len]) {
                    Ok(0) => {
                        return Err(WriteError::ShortSource {
                            dev_id: dev.get(),
                            got: done + got as u64,
                            size,
                        });
                    }
                    Ok(n) => got += n,
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(e) => return Err(e.into()),
                }
            }
            let cluster = u32::try_from(cluster).map_err(|_| WriteError::ClusterOutOfRange {
                dev_id: dev.get(),
                cluster,
            })?;
            self.write_cluster(dev, cluster, &buf[..len])?;
            done += len as u64;
        }
        Ok(())
    }

    fn flush_extent(&mut self) -> Result<(), WriteError> {
        if self.infos.is_empty() {
            return Ok(());
        }
        let mut head = [0u8; EXTENT_HEADER_SIZE];
        head[0..4].copy_from_slice(&EXTENT_MAGIC);
        let blocks = (self.data.len() / BLOCK_SIZE) as u16;
        head[6..8].copy_from_slice(&blocks.to_be_bytes());
        head[8..24].copy_from_slice(&self.uuid);
        for (i, info) in self.infos.iter().enumerate() {
            let at = BLOCKINFO_OFFSET + 8 * i;
            head[at..at + 8].copy_from_slice(&info.to_be_bytes());
        }
        let md5 = md5_with_zeroed_field(&head, EXTENT_MD5_OFFSET);
        head[EXTENT_MD5_OFFSET..EXTENT_MD5_OFFSET + 16].copy_from_slice(&md5);
        self.out.write_all(&head)?;
        self.out.write_all(&self.data)?;
        self.infos.clear();
        self.data.clear();
        Ok(())
    }

    /// Writes the last (possibly short) extent, checks that every cluster of
    /// every device was written, flushes and returns the output.
    pub fn finish(mut self) -> Result<W, WriteError> {
        self.flush_extent()?;
        for (i, (_, set)) in self.devices.iter().enumerate() {
            if let Some(c) = set.first_missing() {
                return Err(WriteError::Incomplete {
                    dev_id: (i + 1) as u8,
                    cluster: c as u32,
                });
            }
        }
        self.out.flush()?;
        Ok(self.out)
    }
}
