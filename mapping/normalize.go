package mapping

// Normalize validates the spec for version v and returns a copy with every
// default the cluster would pick written out: the engine (always), the
// method name, space type, data type and method parameters, plus the
// shards/replicas/knn/ef_search settings. Two normalized specs compare
// equal exactly when the cluster would build the same index, which is
// what Diff relies on. The warnings are Validate's.
func (s *IndexSpec) Normalize(v Version) (*IndexSpec, []Problem, error) {
	warns, err := s.Validate(v)
	if err != nil {
		return nil, warns, err
	}
	n := s.Clone()
	n.normalize(v)
	return n, warns, nil
}

// normalize fills defaults in place; it assumes a valid spec.
func (s *IndexSpec) normalize(v Version) {
	st := &s.Settings
	// OpenSearch 2.x/3.x defaults: 1 shard, 1 replica (IndexMetadata).
	if st.Shards == nil {
		st.Shards = Int(1)
	}
	if st.Replicas == nil {
		st.Replicas = Int(1)
	}
	if st.KNN == nil {
		st.KNN = Bool(knnEnabled(s))
	}
	if *st.KNN && st.EfSearch == nil {
		st.EfSearch = Int(defaultEfSearch) // KNNSettings: 100 for indexes created on 2.12+
	}
	walkFields(s.Fields, "", "", func(_, _ string, f *Field) {
		switch f.Type {
		case TypeKNNVector:
			normalizeVector(v, *st.KNN, f)
		case "text":
			if f.Analyzer == "" {
				f.Analyzer = "standard" // TextFieldMapper default analyzer
			}
		}
	})
}

func normalizeVector(v Version, knn bool, f *Field) {
	if f.ModelID != "" {
		return // everything else comes from the model
	}
	if f.DataType == "" {
		f.DataType = DataFloat
	}
	if !knn {
		return // flat field: no method to resolve
	}
	if f.Mode != "" || f.CompressionLevel != "" {
		// ModeBasedResolver: in_memory is the default mode; 1x is its
		// default compression, 32x on_disk's.
		if f.Mode == "" {
			f.Mode = ModeInMemory
		}
	}
	if f.Method == nil {
		f.Method = &Method{Name: MethodHNSW}
	}
	m := f.Method
	if m.Engine == "" {
		m.Engine = defaultEngine(v, f)
	}
	if f.Mode != "" && f.CompressionLevel == "" {
		// faiss resolves on_disk to 32x; lucene's resolver picks its own
		// level, which the mapping does not show, so it stays unset there.
		// With an explicit encoder the encoder sets the level; writing 1x
		// next to it would conflict (observed on 2.19.1: in_memory + sq +
		// 1x refused, in_memory + sq accepted).
		hasEncoder := m.Parameters != nil && m.Parameters.Encoder != nil
		switch {
		case f.Mode == ModeInMemory && !hasEncoder:
			f.CompressionLevel = "1x"
		case f.Mode == ModeInMemory:
		case m.Engine == EngineFaiss && !hasEncoder:
			f.CompressionLevel = "32x"
		}
	}
	if m.SpaceType == "" {
		m.SpaceType = f.SpaceType
	}
	if m.SpaceType == "" {
		m.SpaceType = defaultSpace(f.DataType)
	}
	f.SpaceType = "" // one place for the space: method.space_type
	if m.Parameters == nil {
		m.Parameters = &MethodParams{}
	}
	p := m.Parameters
	quantized := f.CompressionLevel != "" && f.CompressionLevel != "1x"
	switch {
	case m.Name == MethodHNSW:
		if p.M == nil {
			p.M = Int(defaultM)
		}
		// With compression the resolvers pick their own ef defaults for
		// binary quantization (IndexHyperParametersUtil, 256 for BQ), so
		// leave them to the cluster there.
		if p.EfConstruction == nil && !quantized {
			p.EfConstruction = Int(defaultEfC)
		}
		if m.Engine == EngineFaiss && p.EfSearch == nil && !quantized {
			p.EfSearch = Int(defaultEfSearch)
		}
	case m.Name == MethodIVF:
		if p.Nlist == nil {
			p.Nlist = Int(defaultNlist)
		}
		if p.Nprobes == nil {
			p.Nprobes = Int(defaultNprobes)
		}
	}
	if e := p.Encoder; e != nil {
		if e.Parameters == nil {
			e.Parameters = &EncoderParams{}
		}
		ep := e.Parameters
		switch {
		case e.Name == EncoderSQ && m.Engine == EngineFaiss:
			if ep.Type == "" {
				ep.Type = "fp16"
			}
			if ep.Clip == nil {
				ep.Clip = Bool(false)
			}
		case e.Name == EncoderSQ && m.Engine == EngineLucene:
			if ep.Bits == nil {
				ep.Bits = Int(7)
			}
		case e.Name == EncoderPQ:
			if ep.M == nil {
				ep.M = Int(1)
			}
			if ep.CodeSize == nil {
				ep.CodeSize = Int(pqCodeSizeDefault)
			}
		case e.Name == EncoderBinary:
			// bits follow the compression level where one is set; with a
			// level the encoder cannot give (1x, 2x) the cluster accepts the
			// encoder without bits but refuses it with any bits, so they
			// stay unset there (observed on 2.19.1).
			if ep.Bits == nil {
				switch f.CompressionLevel {
				case "", "32x":
					ep.Bits = Int(1)
				case "16x":
					ep.Bits = Int(2)
				case "8x":
					ep.Bits = Int(4)
				}
			}
		}
		if *ep == (EncoderParams{}) {
			e.Parameters = nil
		}
	} else if m.Engine == EngineFaiss && !quantized {
		// faiss's default encoder is flat (FaissHNSWMethod DEFAULT_ENCODER_CONTEXT).
		p.Encoder = &Encoder{Name: EncoderFlat}
	}
}
