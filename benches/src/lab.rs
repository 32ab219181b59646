//! The soak's lab: two network namespaces joined by a veth pair (as the interop tests'
//! lab in `adapters/std/tests/support`), the processes started in them (only those are
//! ended, by PID), removed on drop.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Two namespaces `tpm<id>` / `tps<id>` joined by `vm<id>` (10.99.0.1) / `vs<id>`
/// (10.99.0.2).
#[derive(Debug)]
pub struct Lab {
    /// The master side's namespace.
    pub master_ns: String,
    /// The slave side's namespace.
    pub slave_ns: String,
    /// The master side's interface.
    pub master_if: String,
    /// The slave side's interface.
    pub slave_if: String,
    /// Files of the lab's processes (configs, sockets): removed on drop.
    pub dir: PathBuf,
    children: Vec<Child>,
}

fn ip(args: &[&str]) -> io::Result<()> {
    let out = Command::new("ip").args(args).output()?;
    if out.status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

impl Lab {
    /// Creates the namespaces and the veth pair; `tag` (a few letters) keeps the names
    /// apart from other labs on the host, with this process's id.
    pub fn new(tag: &str) -> io::Result<Self> {
        let id = format!("{tag}{}", std::process::id() % 100_000);
        let dir = std::env::temp_dir().join(format!("tempora-lab-{id}"));
        std::fs::create_dir_all(&dir)?;
        let lab = Self {
            master_ns: format!("tpm{id}"),
            slave_ns: format!("tps{id}"),
            master_if: format!("vm{id}"),
            slave_if: format!("vs{id}"),
            dir,
            children: Vec::new(),
        };
        // From here on a failure drops `lab`, which removes what was made.
        let (m, s) = (&lab.master_ns, &lab.slave_ns);
        ip(&["netns", "add", m])?;
        ip(&["netns", "add", s])?;
        ip(&[
            "link",
            "add",
            &lab.master_if,
            "netns",
            m,
            "type",
            "veth",
            "peer",
            "name",
            &lab.slave_if,
            "netns",
            s,
        ])?;
        ip(&[
            "-n",
            m,
            "addr",
            "add",
            "10.99.0.1/24",
            "dev",
            &lab.master_if,
        ])?;
        ip(&["-n", s, "addr", "add", "10.99.0.2/24", "dev", &lab.slave_if])?;
        for (ns, dev) in [(m, &lab.master_if), (s, &lab.slave_if)] {
            ip(&["-n", ns, "link", "set", "lo", "up"])?;
            ip(&["-n", ns, "link", "set", dev, "up"])?;
        }
        Ok(lab)
    }

    /// Starts `cmd` in namespace `ns` with stdout and stderr into `log` (`ip netns
    /// exec` execs the command, so the returned pid is the command's own).
    pub fn spawn(&mut self, ns: &str, cmd: &[&str], log: &Path) -> io::Result<u32> {
        let out = File::create(log)?;
        let err = out.try_clone()?;
        let child = Command::new("ip")
            .args(["netns", "exec", ns])
            .args(cmd)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()?;
        let pid = child.id();
        self.children.push(child);
        Ok(pid)
    }

    /// The pid of a started process that has exited, if any (with how it ended).
    pub fn exited(&mut self) -> Option<(u32, String)> {
        self.children.iter_mut().find_map(|c| {
            let status = c.try_wait().ok()??;
            Some((c.id(), status.to_string()))
        })
    }

    /// Asks every process started here to stop (SIGTERM), waits up to `grace`, then
    /// kills what is left; only these processes, by pid.
    pub fn stop_all(&mut self, grace: Duration) {
        for c in &self.children {
            if let Ok(pid) = libc::pid_t::try_from(c.id()) {
                // SAFETY: a signal to a child of ours that we have not yet reaped.
                unsafe { libc::kill(pid, libc::SIGTERM) };
            }
        }
        let until = Instant::now() + grace;
        for c in &mut self.children {
            while Instant::now() < until && matches!(c.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
        self.children.clear();
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.stop_all(Duration::from_secs(3));
        let _ = ip(&["netns", "del", &self.master_ns]);
        let _ = ip(&["netns", "del", &self.slave_ns]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Moves the calling thread into network namespace `ns` (`ip netns add` made it): its
/// sockets then reach that namespace's loopback. Other threads stay where they are.
pub fn enter_netns(ns: &str) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let f = File::open(Path::new("/run/netns").join(ns))?;
    // SAFETY: setns on a namespace file we hold open; it changes this thread only.
    if unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A ptp4l configuration that never touches a clock (`free_running 1`), software
/// timestamps, E2E, with `log2_interval` for Sync and Delay_Req, and `role`
/// (`masterOnly 1`...). `summary_interval` is the Sync interval, as in the interop
/// tests: a free-running ptp4l 3.1.1 then prints a `master offset` line every 2 s (with
/// `summary_interval 0` it printed none in 12 s).
pub fn ptp4l_config(dir: &Path, name: &str, log2_interval: i8, role: &str) -> io::Result<PathBuf> {
    let path = dir.join(format!("{name}.cfg"));
    std::fs::write(
        &path,
        format!(
            "[global]\nfree_running 1\nkernel_leap 0\ntime_stamping software\n\
             delay_mechanism E2E\nnetwork_transport UDPv4\n\
             logSyncInterval {log2_interval}\nlogMinDelayReqInterval {log2_interval}\n\
             logAnnounceInterval -3\nannounceReceiptTimeout 2\n\
             summary_interval {log2_interval}\nuse_syslog 0\nuds_address {}\n{role}\n",
            dir.join(format!("{name}.sock")).display()
        ),
    )?;
    Ok(path)
}
