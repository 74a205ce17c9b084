package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/belmlab/workbench/belm/pipeline"
	"github.com/belmlab/workbench/belm/study"
	"github.com/belmlab/workbench/data/fashionmnist"
)

// imageSource is where reconstruct and interpolate take real images: the files of a folder
// (--directory) or a split of Fashion-MNIST (--dataset).
type imageSource struct {
	directory, dataset, dataDir string
}

func (s *imageSource) register(fs *flagSet, what string) {
	fs.StringVar(&s.directory, "directory", "", what+": a folder of PNG/JPEG images (searched recursively, sorted)")
	fs.StringVar(&s.dataset, "dataset", "", what+": fashion-mnist (its test split, t10k, in file order) or fashion-mnist:train")
	fs.StringVar(&s.dataDir, "data_dir", fashionmnist.Dir(), "folder of the Fashion-MNIST .gz files, for --dataset ($"+fashionmnist.EnvDir+")")
	fs.check(func() error {
		if s.directory != "" && s.dataset != "" {
			return errors.New("give --directory or --dataset, not both")
		}
		return nil
	})
}

// String names the source: the folder, or the dataset and its folder.
func (s *imageSource) String() string {
	if s.directory != "" {
		return s.directory
	}
	return s.dataset + " in " + s.dataDir
}

func (s *imageSource) given() bool { return s.directory != "" || s.dataset != "" }

// open lists at most limit images (limit ≤ 0: all) for the model of p.
func (s *imageSource) open(p *pipeline.Pipeline, limit int) (study.Images, error) {
	switch {
	case s.directory != "" && s.dataset != "":
		return study.Images{}, errors.New("give --directory or --dataset, not both")
	case s.directory != "":
		paths, err := pipeline.ListImages(s.directory)
		if err != nil {
			return study.Images{}, err
		}
		if limit > 0 && len(paths) > limit {
			paths = paths[:limit]
		}
		return study.Images{Names: paths, Load: func(i, j int) ([]float64, error) { return p.LoadImages(paths[i:j]) }}, nil
	case s.dataset != "":
		return s.openDataset(p, limit)
	}
	return study.Images{}, errors.New("give --directory (a folder of images) or --dataset fashion-mnist")
}

// openDataset lists at most limit images of --dataset for the model of p.
func (s *imageSource) openDataset(p *pipeline.Pipeline, limit int) (study.Images, error) {
	name, split, _ := strings.Cut(s.dataset, ":")
	if name != "fashion-mnist" {
		return study.Images{}, fmt.Errorf("--dataset %q: the only dataset is fashion-mnist (fashion-mnist:train for the training split)", s.dataset)
	}
	if split == "" {
		split = string(fashionmnist.Test)
	}
	sp, err := fashionmnist.ParseSplit(split)
	if err != nil {
		return study.Images{}, err
	}
	ds, err := fashionmnist.Load(s.dataDir, sp)
	if err != nil {
		return study.Images{}, err
	}
	size := p.SampleSize()
	if p.Channels() != 1 || size < ds.H || (size-ds.H)%2 != 0 {
		return study.Images{}, fmt.Errorf("the model takes %d×%d×%d images; Fashion-MNIST is 1×%d×%d (a 1-channel model of size %d or %d+2k is needed: --model_id data/fashion-mnist)",
			p.Channels(), size, size, ds.H, ds.W, ds.H, ds.H)
	}
	n := ds.Len()
	if n == 0 {
		return study.Images{}, fmt.Errorf("the %s split of Fashion-MNIST in %s holds no images", sp, s.dataDir)
	}
	if limit > 0 {
		n = min(n, limit)
	}
	names := make([]string, n)
	for i := range names {
		names[i] = filepath.Join(string(sp), fmt.Sprintf("%05d", i))
	}
	return study.Images{Names: names, Load: func(i, j int) ([]float64, error) { return ds.Float64(seq(j)[i:], (size-ds.H)/2), nil }}, nil
}
