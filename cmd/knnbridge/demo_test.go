package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// Lines in WordNet's data file format (wndb(5WN)): offset lex_filenum
// ss_type w_cnt(hex) word lex_id ... p_cnt pointers | gloss.
const wnNoun = `  1 This software and database is being provided to you, the LICENSEE, by  
02062744 05 n 01 whale 0 006 @ 02062430 n 0000 | a very large cetacean; "whales are hunted for oil"  
00217773 04 n 05 laying_waste 0 ruin 0 ruining 0 ruination 0 wrecking 0 001 @ 00217014 n 0000 | destruction achieved by causing something to be wrecked or ruined  
`

const wnAdj = `00001740 00 a 01 able 0 000 | (usually followed by 'to') having the necessary means or skill; "able to swim"; "she was able to program"  
01234567 00 s 0a one 0 two 0 three 0 four 0 five 0 six 0 seven 0 eight 0 nine 0 ten 0 000 | ten words, hex count  
`

func TestReadWordNet(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{"data.noun": wnNoun, "data.adj": wnAdj, "data.verb": "", "data.adv": ""} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := readWordNet(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 {
		t.Fatalf("%d synsets, want 4 (the license header is skipped): %+v", len(got), got)
	}
	w := got[0]
	if w.ID != "n:02062744" || w.POS != "noun" || strings.Join(w.Words, "|") != "whale" ||
		w.Definition != "a very large cetacean" || w.Gloss != `a very large cetacean; "whales are hunted for oil"` {
		t.Errorf("whale: %+v", w)
	}
	if r := got[1]; strings.Join(r.Words, "|") != "laying waste|ruin|ruining|ruination|wrecking" || r.Definition != "destruction achieved by causing something to be wrecked or ruined" {
		t.Errorf("ruin: %+v", r)
	}
	if a := got[2]; a.POS != "adjective" || a.Definition != "(usually followed by 'to') having the necessary means or skill" {
		t.Errorf("able: %+v", a)
	}
	if len(got[3].Words) != 10 || got[3].POS != "adjective" {
		t.Errorf("hex word count: %+v", got[3])
	}
	if _, err := readWordNet(t.TempDir()); err == nil || !strings.Contains(err.Error(), "wordnet-base") {
		t.Errorf("missing corpus: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "data.verb"), []byte("00000001 29 v zz bad 0 | gloss\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readWordNet(dir); err == nil || !strings.Contains(err.Error(), "data.verb line 1") {
		t.Errorf("bad count: %v", err)
	}
}

func TestSpread(t *testing.T) {
	all := make([]synset, 10)
	for i := range all {
		all[i].ID = string(rune('a' + i))
	}
	var ids []string
	for _, s := range spread(all, 3) {
		ids = append(ids, s.ID)
	}
	if strings.Join(ids, "") != "adg" {
		t.Errorf("spread(10, 3) = %v", ids)
	}
	if len(spread(all, 0)) != 10 || len(spread(all, 50)) != 10 {
		t.Error("0 or more than all must take all")
	}
}

func TestCompletionAndHelp(t *testing.T) {
	// Completion scripts come from the command tree itself; generating them
	// directly keeps this test independent of how often it runs in one
	// process (cobra adds its completion command lazily, once).
	for shell, gen := range map[string]func(*strings.Builder) error{
		"bash": func(b *strings.Builder) error { return rootCmd.GenBashCompletionV2(b, true) },
		"zsh":  func(b *strings.Builder) error { return rootCmd.GenZshCompletion(b) },
		"fish": func(b *strings.Builder) error { return rootCmd.GenFishCompletion(b, true) },
	} {
		var b strings.Builder
		if err := gen(&b); err != nil || !strings.Contains(b.String(), "knnbridge") {
			t.Errorf("%s completion: err %v, %d bytes", shell, err, b.Len())
		}
	}
	for _, args := range [][]string{{"serve", "--help"}, {"demo", "--help"}, {"bench", "--help"}, {"migrate", "--help"}} {
		resetHelpFlags(rootCmd) // rootCmd is global: an earlier --help stays set otherwise
		rootCmd.SetArgs(args)
		var out strings.Builder
		rootCmd.SetOut(&out)
		if err := rootCmd.Execute(); err != nil {
			t.Errorf("%v: %v", args, err)
		}
		if out.Len() == 0 {
			t.Errorf("%v printed nothing", args)
		}
	}
	rootCmd.SetArgs(nil)
	rootCmd.SetOut(nil)
}

// resetHelpFlags clears the --help flag of every command, which cobra
// leaves set after an Execute that asked for help.
func resetHelpFlags(c *cobra.Command) {
	if f := c.Flags().Lookup("help"); f != nil {
		_ = f.Value.Set("false")
		f.Changed = false
	}
	for _, sub := range c.Commands() {
		resetHelpFlags(sub)
	}
}
