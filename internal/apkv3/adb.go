// Package apkv3 writes and reads packages in the format apk-tools 3 (the
// package manager of OpenWrt 25.x and Alpine) installs: an "ADB" container
// holding one tree of typed values (the package schema: info, paths,
// scripts), followed by one DATA block per regular file. The layout and
// the schema are those of apk-tools' adb.h and apk_adb.h, summarised here:
//
//	file      "ADBd" + raw deflate( "ADB." schema:u32le block... )
//	          or uncompressed "ADB." schema:u32le block...
//	block     type_size:u32le (type<<30 | 4+len), payload, zero padding to 8
//	          types: 0 ADB (exactly one, first), 1 SIG, 2 DATA
//	ADB       compat_ver:u8=0 ver:u8 reserved:u16 root:val, then the values
//	val       u32le: type in the top 4 bits, a number or an offset below
//	          0x1 int (28 bits inline), 0x2 int32, 0x3 int64, 0x8/0x9/0xa blob
//	          with a 1/2/4-byte length, 0xd array, 0xe object; 0 is null.
//	          Offsets count from the start of the ADB payload.
//	object    u32le slots: [0] = number of slots, [i] = field i (1-based);
//	          trailing null fields are left out; an array is the same with
//	          every slot of one type
//	DATA      path_idx:u32le file_idx:u32le, then the file's bytes, for each
//	          regular file with content in the order of the paths array
//
// Arrays of dependencies, directories and files are sorted by name, as
// apk-tools keeps them; the installer checks each file's SHA-256 against
// the hash in its file object while it extracts.
//
// This package is a build tool: the daemon does not link it.
package apkv3

import "errors"

// Value types (top 4 bits of a value).
const (
	typeSpecial = 0x0
	typeInt     = 0x1
	typeInt32   = 0x2
	typeInt64   = 0x3
	typeBlob8   = 0x8
	typeBlob16  = 0x9
	typeBlob32  = 0xa
	typeArray   = 0xd
	typeObject  = 0xe

	valueMask = 0x0fffffff
)

// Block types (top 2 bits of a block header).
const (
	blockADB  = 0
	blockSig  = 1
	blockData = 2
	blockExt  = 3

	blockAlign = 8
)

// File magic and the package schema id ("pckg", little-endian).
const (
	magicPlain    = "ADB."
	magicDeflate  = "ADBd"
	schemaPackage = 0x676b6370
)

// Field indexes of the package schema (apk_adb.h).
const (
	pkgInfo    = 1
	pkgPaths   = 2
	pkgScripts = 3

	piName          = 1
	piVersion       = 2
	piHashes        = 3
	piDescription   = 4
	piArch          = 5
	piLicense       = 6
	piOrigin        = 7
	piMaintainer    = 8
	piURL           = 9
	piBuildTime     = 11
	piInstalledSize = 12
	piDepends       = 15

	depName = 1

	aclMode  = 1
	aclUser  = 2
	aclGroup = 3

	fiName = 1
	fiACL  = 2
	fiSize = 3
	fiTime = 4
	fiHash = 5

	diName  = 1
	diACL   = 2
	diFiles = 3
)

// ScriptNames are the script slots of the package schema, in slot order
// (slot = index+1).
var ScriptNames = []string{"trigger", "pre-install", "post-install", "pre-deinstall", "post-deinstall", "pre-upgrade", "post-upgrade"}

// uniqueIDLen is the length of the package's unique id in info.hashes: the
// first 20 bytes of the SHA-256 of the ADB payload, computed while those
// bytes are still zero.
const uniqueIDLen = 20

var errFormat = errors.New("apkv3: malformed package")
