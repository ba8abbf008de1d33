// Package queries builds k-NN, BM25 and hybrid search bodies for OpenSearch
// and interprets their results: score <-> similarity conversion in every
// space, threshold translation, normalization, fusion (neural-search
// compatible means, RRF, DBSF), cut-offs and multi-source merging.
//
// It does no network I/O and imports nothing of ours: bridge/ runs the
// requests this package builds and hands the hits back.
//
// Sources for the rules encoded here (cited again beside each rule):
//   - KNN = opensearch-project/k-NN: SpaceType.java (score translations),
//     Lucene.java / Faiss.java (radial thresholds), KNNScoringSpace.java
//     (score script), KNNQueryBuilder.java.
//   - NS = opensearch-project/neural-search: processor/normalization/*.java,
//     processor/combination/*.java.
//   - DW = opensearch-project/documentation-website: knn-spaces.md,
//     radial-search-knn.md, knn-score-script.md.
//   - Qdrant lib/segment/src/common/score_fusion.rs (DBSF),
//     Weaviate entities/autocut/autocut.go (autocut).
package queries
