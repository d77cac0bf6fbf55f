package conf

// ParseUCI validates UCI configuration text.
func ParseUCI(name string, data []byte) (*Config, error) {
	return nil, Errors{{File: name, Msg: "UCI not supported yet"}}
}
