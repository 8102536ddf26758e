// Command gen draws Ringside's PNG icons into the assets directory:
// icon.png (256x256), tray-<state>.png (64x64) for each connection state,
// and tray-<state>-<mark>.png with the agent's busy, away or do-not-disturb
// mark in the top-right corner.
//
// The PNGs are committed; run this only to change them:
//
//	cd assets && go generate
//
// Shapes are signed distance functions, rendered with 4x4 supersampling so
// edges are anti-aliased, with no dependency beyond the standard library.
package main

import (
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"log"
	"math"
	"os"
	"path/filepath"
)

func main() {
	out := flag.String("out", ".", "directory to write the PNG files to")
	flag.Parse()
	if err := run(*out); err != nil {
		log.Fatal(err)
	}
}

// Colours, as 0xRRGGBB.
const (
	teal     = 0x0f8b8d
	tealDark = 0x0a5f61
	white    = 0xffffff
	green    = 0x2eb84f
	amber    = 0xf5a623
	red      = 0xd93025
	grey     = 0x8a8f94
	greyBase = 0x6b7278
	greyDark = 0x4b5156
	blue     = 0x2f6fd6
	purple   = 0x7b4fc9
)

func run(dir string) error {
	files := map[string]*image.NRGBA{
		"icon.png":              render(256, appIcon(teal, tealDark), nil),
		"tray-connected.png":    render(64, trayBase(teal, tealDark), badge(green)),
		"tray-reconnecting.png": render(64, trayBase(teal, tealDark), badge(amber)),
		"tray-failed.png":       render(64, trayBase(teal, tealDark), badge(red)),
		"tray-offline.png":      render(64, trayBase(greyBase, greyDark), badge(grey)),
	}
	states := []struct {
		name      string
		disc, rim uint32
		badge     uint32
	}{
		{"connected", teal, tealDark, green},
		{"reconnecting", teal, tealDark, amber},
		{"failed", teal, tealDark, red},
		{"offline", greyBase, greyDark, grey},
	}
	for _, st := range states {
		for mark, layers := range marks() {
			extra := append(badge(st.badge), layers...)
			files["tray-"+st.name+"-"+mark+".png"] = render(64, trayBase(st.disc, st.rim), extra)
		}
	}
	for name, img := range files {
		if err := writePNG(filepath.Join(dir, name), img); err != nil {
			return err
		}
	}
	return nil
}

func writePNG(path string, img image.Image) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(f, img); err != nil {
		f.Close()
		return fmt.Errorf("encode %s: %w", path, err)
	}
	return f.Close()
}

// layer is a shape, as a signed distance (negative inside) in coordinates
// where the image spans [-1, 1] on both axes, y pointing down, and its colour.
type layer struct {
	dist func(x, y float64) float64
	col  color.NRGBA
}

// appIcon is the application icon: a white phone handset in a thin white
// ring on a disc with a darker rim.
func appIcon(disc, rim uint32) []layer {
	return []layer{
		{circle(0, 0, 0.96), opaque(rim)},
		{circle(0, 0, 0.90), opaque(disc)},
		{annulus(0, 0, 0.78, 0.035), opaque(white)},
		{handset(1.15, 0, 0), opaque(white)},
	}
}

// trayBase is the application icon for a tray slot of about 22-32 pixels:
// no thin ring, and the handset moved up and left, clear of the badge.
func trayBase(disc, rim uint32) []layer {
	return []layer{
		{circle(0, 0, 0.96), opaque(rim)},
		{circle(0, 0, 0.88), opaque(disc)},
		{handset(1.05, -0.12, -0.12), opaque(white)},
	}
}

// badge is a status dot in the bottom-right corner, with a white outline so
// it stands out on both light and dark panels.
func badge(c uint32) []layer {
	return []layer{
		{circle(0.56, 0.56, 0.44), opaque(white)},
		{circle(0.56, 0.56, 0.34), opaque(c)},
	}
}

// marks are the agent-state marks drawn in the top-right corner, by name:
// busy is a no-entry sign, away (dinner, break) a pause sign, dnd a crescent
// moon.
func marks() map[string][]layer {
	const cx, cy = 0.56, -0.56
	disc := func(c uint32) []layer {
		return []layer{
			{circle(cx, cy, 0.44), opaque(white)},
			{circle(cx, cy, 0.34), opaque(c)},
		}
	}
	box := func(x, y, halfW, halfH float64) func(x, y float64) float64 {
		return func(px, py float64) float64 { return roundedBox(px-x, py-y, halfW, halfH, 0.03) }
	}
	moon := func(x, y float64) float64 {
		return math.Max(circle(cx-0.02, cy, 0.22)(x, y), -circle(cx+0.09, cy-0.07, 0.19)(x, y))
	}
	return map[string][]layer{
		"busy": append(disc(red), layer{box(cx, cy, 0.21, 0.06), opaque(white)}),
		"away": append(disc(blue), layer{box(cx-0.09, cy, 0.05, 0.17), opaque(white)}, layer{box(cx+0.09, cy, 0.05, 0.17), opaque(white)}),
		"dnd":  append(disc(purple), layer{moon, opaque(white)}),
	}
}

func render(size int, base, extra []layer) *image.NRGBA {
	const ss = 4 // samples per axis per pixel
	layers := append(append([]layer(nil), base...), extra...)
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	for py := range size {
		for px := range size {
			var r, g, b, a float64 // premultiplied, 0..1
			for sy := range ss {
				for sx := range ss {
					x := (float64(px)+(float64(sx)+0.5)/ss)/float64(size)*2 - 1
					y := (float64(py)+(float64(sy)+0.5)/ss)/float64(size)*2 - 1
					var sr, sg, sb, sa float64
					for _, l := range layers {
						if l.dist(x, y) < 0 {
							ca := float64(l.col.A) / 255
							sr = float64(l.col.R)/255*ca + sr*(1-ca)
							sg = float64(l.col.G)/255*ca + sg*(1-ca)
							sb = float64(l.col.B)/255*ca + sb*(1-ca)
							sa = ca + sa*(1-ca)
						}
					}
					r, g, b, a = r+sr, g+sg, b+sb, a+sa
				}
			}
			n := float64(ss * ss)
			r, g, b, a = r/n, g/n, b/n, a/n
			if a == 0 {
				continue
			}
			img.SetNRGBA(px, py, color.NRGBA{
				R: uint8(math.Round(r / a * 255)),
				G: uint8(math.Round(g / a * 255)),
				B: uint8(math.Round(b / a * 255)),
				A: uint8(math.Round(a * 255)),
			})
		}
	}
	return img
}

// opaque returns the opaque colour 0xRRGGBB.
func opaque(rgb uint32) color.NRGBA {
	return color.NRGBA{R: uint8(rgb >> 16), G: uint8(rgb >> 8), B: uint8(rgb), A: 0xff}
}

func circle(cx, cy, radius float64) func(x, y float64) float64 {
	return func(x, y float64) float64 { return math.Hypot(x-cx, y-cy) - radius }
}

func annulus(cx, cy, radius, halfWidth float64) func(x, y float64) float64 {
	return func(x, y float64) float64 { return math.Abs(math.Hypot(x-cx, y-cy)-radius) - halfWidth }
}

// Handset geometry: the handle is an arc around (hx, hy) bowing to the
// bottom left; the earpiece (top left) and mouthpiece (bottom right) are
// rounded blocks at its ends, pointing in toward the arc's centre.
const (
	hx, hy     = 0.20, -0.20
	hRadius    = 0.50
	hHalfWidth = 0.085
	hFrom, hTo = 0.5 * math.Pi, math.Pi // arc angles, y down
)

// handset is the handset scaled by scale and moved by (dx, dy).
func handset(scale, dx, dy float64) func(x, y float64) float64 {
	return func(x, y float64) float64 {
		x, y = (x-dx)/scale, (y-dy)/scale
		d := arc(x-hx, y-hy)
		for _, a := range []float64{hFrom, hTo} {
			d = math.Min(d, endPiece(x, y, a))
		}
		return d * scale
	}
}

// arc is the distance to the handle: the arc of radius hRadius between angles
// hFrom and hTo, hHalfWidth thick, with round ends.
func arc(x, y float64) float64 {
	a := math.Atan2(y, x)
	if a < 0 {
		a += 2 * math.Pi
	}
	if a >= hFrom && a <= hTo {
		return math.Abs(math.Hypot(x, y)-hRadius) - hHalfWidth
	}
	d := math.Inf(1)
	for _, e := range []float64{hFrom, hTo} {
		d = math.Min(d, math.Hypot(x-hRadius*math.Cos(e), y-hRadius*math.Sin(e)))
	}
	return d - hHalfWidth
}

// endPiece is a rounded rectangle at the arc's end at angle a, its long side
// along the radius, reaching from just outside the arc toward its centre.
func endPiece(x, y, a float64) float64 {
	const (
		halfLen  = 0.17 // along the radius
		halfWide = 0.14 // along the arc
		corner   = 0.08
		inset    = 0.09 // centre lies this far inside the arc radius
	)
	cx := hx + (hRadius-inset)*math.Cos(a)
	cy := hy + (hRadius-inset)*math.Sin(a)
	// Rotate into the piece's frame: u along the radius, v along the arc.
	dx, dy := x-cx, y-cy
	u := dx*math.Cos(a) + dy*math.Sin(a)
	v := -dx*math.Sin(a) + dy*math.Cos(a)
	return roundedBox(u, v, halfLen, halfWide, corner)
}

func roundedBox(x, y, halfW, halfH, r float64) float64 {
	qx := math.Abs(x) - halfW + r
	qy := math.Abs(y) - halfH + r
	outside := math.Hypot(math.Max(qx, 0), math.Max(qy, 0))
	return outside + math.Min(math.Max(qx, qy), 0) - r
}
