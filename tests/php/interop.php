<?php
// The PHP side of tests/php.rs, with PHP's Memcached extension (Debian's
// php-memcached): `store` writes values of every PHP type (and compressed
// ones, by zlib and by fastlz), `check` reads what the Tcl side stored in
// the php value format.
//
//   php interop.php store|check HOST PORT
//
// Prints one line per failed check, then "ok N checks"; exits 1 on a failure.

[$_, $mode, $host, $port] = $argv;
$m = new Memcached();
$m->addServer($host, (int)$port);
$m->setOption(Memcached::OPT_COMPRESSION, true);

$failures = [];
$checks = 0;
function check($what, $got, $want) {
    global $failures, $checks;
    $checks++;
    if ($got !== $want) {
        $failures[] = "$what: got " . var_export($got, true) . ", want " . var_export($want, true);
    }
}

if ($mode === 'store') {
    check('set text', $m->set('php:text', "h\u{e9}llo w\u{f6}rld \u{2713}"), true);
    check('set int', $m->set('php:int', 42), true);
    check('set float', $m->set('php:float', 1.5), true);
    check('set true', $m->set('php:true', true), true);
    check('set false', $m->set('php:false', false), true);
    check('set array', $m->set('php:array', [1, 2]), true);
    // Over the compression threshold (2000 bytes): zlib, then fastlz
    // (the extension's default).
    ini_set('memcached.compression_type', 'zlib');
    $m2 = new Memcached();
    $m2->addServer($host, (int)$port);
    check('set zlib', $m2->set('php:zlib', str_repeat("zlib \u{e9}t\u{e9} ", 500)), true);
    ini_set('memcached.compression_type', 'fastlz');
    $m3 = new Memcached();
    $m3->addServer($host, (int)$port);
    check('set fastlz', $m3->set('php:fastlz', str_repeat('fast ', 1000)), true);
} else {
    check('tcl text', $m->get('tcl:text'), "Gr\u{fc}\u{df}e \u{2713}");
    check('tcl big', $m->get('tcl:big'), str_repeat("gro\u{df} ", 1000));
    check('tcl bytes', $m->get('tcl:bytes'), "\x00\xff\x80 binary");
    check('tcl number', $m->get('tcl:number'), "12345");
}
foreach ($failures as $f) {
    echo "$f\n";
}
echo $failures ? "FAILED " . count($failures) . " of $checks checks\n" : "ok $checks checks\n";
exit($failures ? 1 : 0);
