package profile

// Series holds the facts of one Slurm release series that a loader needs and
// that do not follow API generation boundaries (slurm-abi.md §1.1, §1.5).
type Series struct {
	Major, Minor uint8
	// Protocol is SLURM_PROTOCOL_VERSION; MinProtocol is
	// SLURM_MIN_PROTOCOL_VERSION, the oldest a plugin's unpack accepts.
	Protocol, MinProtocol uint16
	// ErrnoSetter is how plugins report errors: "slurm_seterrno" (up to 24.05,
	// readable with slurm_get_errno) or "errno" (24.11+). Both write the C
	// library's thread-local errno.
	ErrnoSetter string
	// XfreeArgs is the arity of slurm_xfree: 4 (item, file, line, func) up to
	// 20.02, 1 from 20.11.
	XfreeArgs int
	// BufShadow reports whether buf_t has the 23.11 "shadow" flag.
	BufShadow bool
	// FiniVoid reports whether the built-in plugins declare void fini(void)
	// (25.11+); the loader ignores fini's return value in every release.
	FiniVoid bool
	// PluginVersionRequired: 22.05+ refuse a plugin without plugin_version.
	PluginVersionRequired bool
}

// AllSeries lists every release series the suite knows, oldest first.
var AllSeries = []Series{
	{19, 5, 0x2200, 0x2000, "slurm_seterrno", 4, false, false, false},
	{20, 2, 0x2300, 0x2100, "slurm_seterrno", 4, false, false, false},
	{20, 11, 0x2400, 0x2200, "slurm_seterrno", 1, false, false, false},
	{21, 8, 0x2500, 0x2300, "slurm_seterrno", 1, false, false, false},
	{22, 5, 0x2600, 0x2400, "slurm_seterrno", 1, false, false, true},
	{23, 2, 0x2700, 0x2500, "slurm_seterrno", 1, false, false, true},
	{23, 11, 0x2800, 0x2600, "slurm_seterrno", 1, true, false, true},
	{24, 5, 0x2900, 0x2700, "slurm_seterrno", 1, true, false, true},
	{24, 11, 0x2A00, 0x2700, "errno", 1, true, false, true},
	{25, 5, 0x2B00, 0x2800, "errno", 1, true, false, true},
	{25, 11, 0x2C00, 0x2900, "errno", 1, true, true, true},
	{26, 5, 0x2D00, 0x2A00, "errno", 1, true, true, true},
	{26, 11, 0x2E00, 0x2B00, "errno", 1, true, true, true},
}

// SeriesOf returns the series of v, or nil when the suite does not know it.
func SeriesOf(ver Version) *Series {
	for i := range AllSeries {
		if s := &AllSeries[i]; s.Major == ver.Major && s.Minor == ver.Minor {
			return s
		}
	}
	return nil
}

// ProtocolVersions lists every protocol version a plugin of this series must
// accept in unpack, newest first: SLURM_PROTOCOL_VERSION down to
// SLURM_MIN_PROTOCOL_VERSION.
func (s *Series) ProtocolVersions() []uint16 {
	var out []uint16
	for p := s.Protocol; p >= s.MinProtocol; p -= 0x100 {
		out = append(out, p)
	}
	return out
}

// Release facts shared by all series.
const (
	SlurmSuccess    = 0
	SlurmError      = -1
	SlurmAuthNobody = 99
	// SlurmAuthUIDAny is SLURM_AUTH_UID_ANY, the r_uid that lets any uid
	// decode a credential (20.11.9+).
	SlurmAuthUIDAny = 0xFFFFFFFF
	BufMagic        = 0x42554545
	// XmallocMagic is the first word of the 16-byte header xmalloc puts
	// before every block it returns.
	XmallocMagic = 0x42
	// BufSize is sizeof(buf_t) on x86-64 in every layout.
	BufSize = 32
)

// Buffer field offsets of buf_t on x86-64 (all releases).
const (
	BufOffMagic     = 0
	BufOffHead      = 8
	BufOffSize      = 16
	BufOffProcessed = 20
	BufOffMmaped    = 24
	BufOffShadow    = 25
)
