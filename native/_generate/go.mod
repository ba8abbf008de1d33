module github.com/knnbridge/knnbridge/native/_generate

go 1.26.0
