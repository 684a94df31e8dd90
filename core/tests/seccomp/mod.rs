//! A seccomp filter a test installs on one thread to make a system call fail there, as a
//! sandbox or an older kernel would; other threads are unaffected.

/// Makes every later `syscall` of the calling thread fail with `errno`; with `arg2`, only the
/// calls whose third argument's low 32 bits equal it.
pub fn refuse_on_this_thread(syscall: libc::c_long, errno: i32, arg2: Option<u32>) {
    const LD_W_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS: a word of `struct seccomp_data`
    const JEQ: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
    const RET: u16 = 0x06; // BPF_RET | BPF_K
    const RET_ERRNO: u32 = 0x0005_0000;
    const RET_ALLOW: u32 = 0x7fff_0000;
    const NR: u32 = 0; // offset of the syscall number
    const ARG2: u32 = 32; // offset of args[2]'s low half
    let ins = |code, jt, jf, k| libc::sock_filter { code, jt, jf, k };
    let refuse = ins(RET, 0, 0, RET_ERRNO | errno as u32);
    let allow = ins(RET, 0, 0, RET_ALLOW);
    let any = [
        ins(LD_W_ABS, 0, 0, NR),
        ins(JEQ, 0, 1, syscall as u32),
        refuse,
        allow,
    ];
    let matching;
    let filter: &[libc::sock_filter] = match arg2 {
        None => &any,
        Some(v) => {
            matching = [
                ins(LD_W_ABS, 0, 0, NR),
                ins(JEQ, 0, 3, syscall as u32),
                ins(LD_W_ABS, 0, 0, ARG2),
                ins(JEQ, 0, 1, v),
                refuse,
                allow,
            ];
            &matching
        }
    };
    let prog = libc::sock_fprog {
        len: filter.len() as u16,
        filter: filter.as_ptr() as *mut _,
    };
    // SAFETY: plain prctl calls; the kernel copies `prog` before returning.
    unsafe {
        assert_eq!(libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
        assert_eq!(
            libc::prctl(libc::PR_SET_SECCOMP, libc::SECCOMP_MODE_FILTER, &prog),
            0
        );
    }
}
