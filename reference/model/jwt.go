package model

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/plugincheck/plugincheck/reference/pack"
)

// AuthJWT is auth/jwt (plugin_id 102), 20.02 and later. Its body is the
// token and the user name as two strings; the credential's cred argument
// does not contribute: pack writes the thread's token (auth_p_thread_config)
// or, in a client, $SLURM_JWT, and the thread's user name (NULL unless
// thread_config set one).
type AuthJWT struct{ Release Release }

// Body is what auth_p_pack writes: packstr(token) packstr(username).
func (m AuthJWT) Body(token, user *string) []byte {
	var e pack.Encoder
	e.StrPtr(token)
	e.StrPtr(user)
	return e.Bytes()
}

// Unpack reads the two strings (NUL-checked from 23.02) and returns them
// and the bytes consumed.
func (m AuthJWT) Unpack(body []byte) (token, user *string, n int, err error) {
	d := pack.NewDecoder(body, m.Release.Rules())
	if token, err = d.Str(); err != nil {
		return nil, nil, 0, err
	}
	if user, err = d.Str(); err != nil {
		return nil, nil, 0, err
	}
	return token, user, d.Offset(), nil
}

// Claims are the claims auth/jwt reads: exp and iat in seconds, and the
// user in "sun" (Slurm user name) or, without it, "username".
type Claims struct {
	Exp      int64  `json:"exp"`
	Iat      int64  `json:"iat"`
	Sun      string `json:"sun,omitempty"`
	Username string `json:"username,omitempty"`
}

// User is the user the token names: sun, else username.
func (c Claims) User() string {
	if c.Sun != "" {
		return c.Sun
	}
	return c.Username
}

var b64 = base64.RawURLEncoding

// MintHS256 makes a compact JWS as auth_p_token_generate does:
// header {"alg":"HS256","typ":"JWT"}, the claims, an HMAC-SHA256 under key.
func MintHS256(key []byte, c Claims) string {
	claims, _ := json.Marshal(c)
	unsigned := b64.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + b64.EncodeToString(claims)
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(unsigned))
	return unsigned + "." + b64.EncodeToString(mac.Sum(nil))
}

// Errors of ParseHS256, in the order auth/jwt checks.
var (
	ErrJWTFormat  = errors.New("jwt: not a compact JWS")
	ErrJWTAlg     = errors.New("jwt: alg is not HS256")
	ErrJWTMAC     = errors.New("jwt: signature does not match the key")
	ErrJWTExpired = errors.New("jwt: token expired")
	ErrJWTNoUser  = errors.New("jwt: no sun or username claim")
)

// ParseHS256 checks a token as auth/jwt does with an HS256 key: alg
// (compared case-insensitively; "none" and other algorithms refused), the
// signature, exp (a missing exp reads as 0, so it has expired) and a user
// claim.
func ParseHS256(token string, key []byte, now time.Time) (Claims, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return Claims{}, ErrJWTFormat
	}
	hb, err := b64.DecodeString(parts[0])
	if err != nil {
		return Claims{}, fmt.Errorf("%w: header: %w", ErrJWTFormat, err)
	}
	var h struct {
		Alg string `json:"alg"`
	}
	if err := json.Unmarshal(hb, &h); err != nil {
		return Claims{}, fmt.Errorf("%w: header: %w", ErrJWTFormat, err)
	}
	if !strings.EqualFold(h.Alg, "HS256") {
		return Claims{}, fmt.Errorf("%w: %q", ErrJWTAlg, h.Alg)
	}
	sig, err := b64.DecodeString(parts[2])
	if err != nil {
		return Claims{}, fmt.Errorf("%w: signature: %w", ErrJWTFormat, err)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(parts[0] + "." + parts[1]))
	if !hmac.Equal(sig, mac.Sum(nil)) {
		return Claims{}, ErrJWTMAC
	}
	cb, err := b64.DecodeString(parts[1])
	if err != nil {
		return Claims{}, fmt.Errorf("%w: claims: %w", ErrJWTFormat, err)
	}
	var c Claims
	if err := json.Unmarshal(cb, &c); err != nil {
		return Claims{}, fmt.Errorf("%w: claims: %w", ErrJWTFormat, err)
	}
	if c.Exp < now.Unix() {
		return c, ErrJWTExpired
	}
	if c.User() == "" {
		return c, ErrJWTNoUser
	}
	return c, nil
}
