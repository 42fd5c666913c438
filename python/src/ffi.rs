//! The C ABI of libmemcache (`include/memcache.h`), the functions this
//! binding calls. They are left undefined in the module and bound when
//! Python loads it, to the libmemcache that `memcache/__init__.py` loaded
//! first with RTLD_GLOBAL: the same copy as Tcl's or a C program's in the
//! process, so all of them see one registry of handles.

use std::ffi::{c_char, c_void};

/// `mc_result`: 0 is success; the other codes name the error kinds.
pub type McResult = u32;
pub const OK: McResult = 0;
pub const NOTFOUND: McResult = 1;
pub const NOTSTORED: McResult = 2;
pub const EXISTS: McResult = 3;

/// `MC_TTL_DEFAULT`: the handle's default TTL.
pub const TTL_DEFAULT: u32 = u32::MAX;
/// `MC_VALUES_PYTHON`: python-memcached's flags.
pub const VALUES_PYTHON: u32 = 1;

#[repr(C)]
pub struct Hit {
    pub key: *const c_char,
    pub value: *const u8,
    pub value_len: usize,
    pub flags: u32,
    pub cas: u64,
}

#[repr(C)]
pub struct Entry {
    pub key: *const c_char,
    pub value: *const c_void,
    pub value_len: usize,
    pub flags: u32,
}

/// `mc_update_value`: what an update function wants stored.
#[repr(C)]
pub struct UpdateValue {
    pub value: *const c_void,
    pub len: usize,
    pub flags: u32,
}

/// `mc_update_fn`.
pub type UpdateFn = Option<
    unsafe extern "C" fn(
        user: *mut c_void,
        old: *const c_void,
        old_len: usize,
        old_flags: u32,
        found: i32,
        store: *mut UpdateValue,
    ) -> u32,
>;

/// `mc_fetch_options`.
#[repr(C)]
pub struct FetchOptions {
    pub lease: u32,
    pub wait_ms: u32,
    pub recache: u32,
}

/// `mc_compute_fn`.
pub type ComputeFn =
    Option<unsafe extern "C" fn(user: *mut c_void, value: *mut UpdateValue) -> u32>;

/// `mc_change`: what an update function asks for.
pub const CHANGE_STORE: u32 = 0;
pub const CHANGE_REMOVE: u32 = 1;
pub const CHANGE_KEEP: u32 = 2;
pub const CHANGE_ABORT: u32 = 3;

#[repr(C)]
pub struct Stat {
    pub server: usize,
    pub name: *const c_char,
    pub value: *const c_char,
}

extern "C" {
    pub fn mc_last_error() -> *const c_char;
    pub fn mc_free(p: *mut c_void);
    pub fn mc_library_path() -> *const c_char;
    pub fn mc_check_key(key: *const c_char, len: usize) -> McResult;
    pub fn mc_create_configured(
        servers: *const *const c_char,
        count: usize,
        settings: *const *const c_char,
        count_settings: usize,
        handle: *mut u64,
    ) -> McResult;
    pub fn mc_delete(handle: u64) -> McResult;
    pub fn mc_delete_all(count: *mut usize) -> McResult;
    pub fn mc_handles(handles: *mut u64, capacity: usize, count: *mut usize) -> McResult;
    pub fn mc_find(name: *const c_char, handle: *mut u64) -> McResult;
    pub fn mc_server_count(handle: u64, count: *mut usize) -> McResult;
    pub fn mc_server_name(handle: u64, index: usize, name: *mut *mut c_char) -> McResult;
    pub fn mc_configure(handle: u64, settings: *const *const c_char, count: usize) -> McResult;
    pub fn mc_option(handle: u64, name: *const c_char, value: *mut *mut c_char) -> McResult;
    pub fn mc_unique_key(buffer: *mut c_char, size: usize) -> McResult;
    pub fn mc_start(handle: u64, outcome: *mut i32) -> McResult;
    pub fn mc_stop(handle: u64, outcome: *mut i32) -> McResult;
    pub fn mc_forget_dead(handle: u64) -> McResult;
    pub fn mc_set_value_format(handle: u64, format: u32) -> McResult;
    pub fn mc_get_value_format(handle: u64, format: *mut u32) -> McResult;
    pub fn mc_text_flag(format: u32) -> u32;
    pub fn mc_is_text(format: u32, flags: u32) -> std::ffi::c_int;
    pub fn mc_disconnect(handle: u64) -> McResult;
    pub fn mc_mark_dead(handle: u64, index: usize, reason: *const c_char) -> McResult;
    pub fn mc_set_servers(handle: u64, servers: *const *const c_char, count: usize) -> McResult;
    pub fn mc_server_for_key(handle: u64, key: *const c_char, index: *mut usize) -> McResult;
    pub fn mc_store(
        handle: u64,
        verb: u32,
        place: *const c_char,
        key: *const c_char,
        value: *const c_void,
        len: usize,
        flags: u32,
        ttl: u32,
        cas: u64,
    ) -> McResult;
    pub fn mc_set_multi(
        handle: u64,
        entries: *const Entry,
        count: usize,
        ttl: u32,
        statuses: *mut McResult,
    ) -> McResult;
    pub fn mc_store_exptime(
        handle: u64,
        verb: u32,
        place: *const c_char,
        key: *const c_char,
        value: *const c_void,
        len: usize,
        flags: u32,
        exptime: i32,
        cas: u64,
    ) -> McResult;
    pub fn mc_set_multi_exptime(
        handle: u64,
        place: *const c_char,
        entries: *const Entry,
        count: usize,
        exptime: i32,
        statuses: *mut McResult,
    ) -> McResult;
    pub fn mc_touch_exptime(
        handle: u64,
        place: *const c_char,
        key: *const c_char,
        exptime: i32,
    ) -> McResult;
    pub fn mc_get_into(
        handle: u64,
        place: *const c_char,
        key: *const c_char,
        alloc: Option<unsafe extern "C" fn(*mut c_void, usize, u32) -> *mut c_void>,
        user: *mut c_void,
        len: *mut usize,
        flags: *mut u32,
        cas: *mut u64,
    ) -> McResult;
    pub fn mc_get_multi_by_key(
        handle: u64,
        place: *const c_char,
        keys: *const *const c_char,
        count_keys: usize,
        hits: *mut *mut Hit,
        count: *mut usize,
    ) -> McResult;
    pub fn mc_get_multi_partial(
        handle: u64,
        keys: *const *const c_char,
        count_keys: usize,
        hits: *mut *mut Hit,
        count: *mut usize,
        failed: *mut usize,
    ) -> McResult;
    pub fn mc_exists(handle: u64, key: *const c_char) -> McResult;
    pub fn mc_ttl(handle: u64, key: *const c_char, ttl: *mut i64) -> McResult;
    pub fn mc_flags(handle: u64, key: *const c_char, flags: *mut u32) -> McResult;
    pub fn mc_remove_by_key(handle: u64, place: *const c_char, key: *const c_char) -> McResult;
    pub fn mc_remove_multi(
        handle: u64,
        keys: *const *const c_char,
        count: usize,
        statuses: *mut McResult,
    ) -> McResult;
    pub fn mc_touch_by_key(
        handle: u64,
        place: *const c_char,
        key: *const c_char,
        ttl: u32,
    ) -> McResult;
    pub fn mc_incr_by_key(
        handle: u64,
        place: *const c_char,
        key: *const c_char,
        delta: u64,
        value: *mut u64,
    ) -> McResult;
    pub fn mc_decr_by_key(
        handle: u64,
        place: *const c_char,
        key: *const c_char,
        delta: u64,
        value: *mut u64,
    ) -> McResult;
    pub fn mc_flush(handle: u64, delay: u32) -> McResult;
    pub fn mc_update(
        handle: u64,
        key: *const c_char,
        ttl: u32,
        change: UpdateFn,
        user: *mut c_void,
    ) -> McResult;
    pub fn mc_lock(
        handle: u64,
        name: *const c_char,
        ttl: u32,
        wait_ms: u32,
        token: *mut c_char,
    ) -> McResult;
    pub fn mc_unlock(handle: u64, name: *const c_char, token: *const c_char) -> McResult;
    pub fn mc_fetch(
        handle: u64,
        key: *const c_char,
        ttl: u32,
        options: *const FetchOptions,
        compute: ComputeFn,
        user: *mut c_void,
        value: *mut *mut c_void,
        len: *mut usize,
        flags: *mut u32,
    ) -> McResult;
    pub fn mc_invalidate(handle: u64, key: *const c_char, ttl: u32) -> McResult;
    pub fn mc_stats(
        handle: u64,
        group: *const c_char,
        stats: *mut *mut Stat,
        count: *mut usize,
    ) -> McResult;
    pub fn mc_server_stats(
        handle: u64,
        index: usize,
        group: *const c_char,
        stats: *mut *mut Stat,
        count: *mut usize,
    ) -> McResult;
    pub fn mc_version(handle: u64, index: usize, version: *mut *mut c_char) -> McResult;
}
