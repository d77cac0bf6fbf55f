// Package errjoin joins errors as errors.Join does (the same text, one
// error a line, and errors.Is/As see each of them), through fmt.Errorf's
// wrapping of several %w: fmt links that path anyway, while errors.Join
// and its joinError type are code of their own (flash).
package errjoin

import "fmt"

// Join returns nil when every error in errs is nil, otherwise an error
// whose text is the non-nil errors' texts, one a line, and which unwraps
// to them.
func Join(errs []error) error {
	var args []any
	var format []byte
	for _, err := range errs {
		if err != nil {
			if args != nil {
				format = append(format, '\n')
			}
			args = append(args, err)
			format = append(format, "%w"...)
		}
	}
	if args == nil {
		return nil
	}
	return fmt.Errorf(string(format), args...)
}
